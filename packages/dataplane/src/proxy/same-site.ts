/**
 * Which browsers reject a cookie with `SameSite=None` (or take it as Strict): ingress-nginx's
 * list (its `util/same_site.lua`, after Chromium's "SameSite=None: known incompatible clients"),
 * for the affinity cookie's `session-cookie-conditional-samesite-none`. Pure.
 */

/** Whether a browser with `userAgent` takes `SameSite=None` as meant; no User-Agent: yes. */
export function sameSiteNoneCompatible(userAgent: string | undefined): boolean {
  if (userAgent === undefined) return true;
  // Chrome 40-69 (the Lua's patterns match the major version's first digit).
  if (/Chrome\/[456]/.test(userAgent)) return false;
  // iOS 12 and iPadOS 12: every browser there uses Safari's engine.
  if (userAgent.includes('CPU iPhone OS 12') || userAgent.includes('iPad; CPU OS 12')) return false;
  // Safari on macOS 10.14.
  return !(
    userAgent.includes('Macintosh') &&
    userAgent.includes('Intel Mac OS X 10_14') &&
    userAgent.includes('Safari') &&
    !userAgent.includes('Chrome')
  );
}
