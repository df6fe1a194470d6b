/**
 * Resolves HealthCheckPolicies (`pier.dev/v1alpha1`, namespaced) into the health-check settings
 * of each Service, and the status every policy should show. Pure.
 */
import type { V1Condition, V1ObjectMeta } from '@kubernetes/client-node';
import type { HealthCheckSettings } from '@pier/shared';
import { checkHealthCheckSettings, parseDuration, parseStatusRanges } from '@pier/shared';
import { compareByAge, compareStrings } from '../kube/object-age.ts';

/** A HealthCheckPolicy as read from the API (or a manifest in standalone mode). */
export interface HealthCheckPolicy {
  metadata: V1ObjectMeta;
  spec: {
    /** The Service in the policy's own namespace. `group` '' and `kind` 'Service' when given. */
    targetRef: { group?: string; kind?: string; name: string };
    /** Port to probe instead of each endpoint's own port. */
    port?: number;
    http?: { path?: string; host?: string; expectedStatuses?: string };
    /** Durations such as `5s`, `500ms`, `1m30s`. */
    interval?: string;
    timeout?: string;
    healthyThreshold?: number;
    unhealthyThreshold?: number;
    passive?: { consecutiveFailures?: number; ejectionTime?: string; maxEjectionPercent?: number };
  };
  status?: { conditions?: V1Condition[] };
}

/** One condition of a policy's status, without the bookkeeping fields the writer adds. */
export interface PolicyCondition {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** The status conditions one policy should show. */
export interface PolicyStatus {
  namespace: string;
  name: string;
  /** Whether the policy is in force: False with reason `Invalid` or `Conflicted`. */
  accepted: PolicyCondition;
  /** Whether its target Service exists: False with reason `ServiceNotFound`. */
  resolvedRefs: PolicyCondition;
}

/** Result of resolving all policies. */
export interface HealthPolicyResolution {
  /** The settings for a Service's backends: its policy's, or a copy of the default. */
  settingsFor(namespace: string, service: string): HealthCheckSettings;
  /** The settings of the policy that applies to a Service (not a copy), if one does. */
  applied(namespace: string, service: string): Readonly<HealthCheckSettings> | undefined;
  /** One per policy, sorted by namespace/name. */
  statuses: PolicyStatus[];
}

/** Condition reasons, stable: users and tools read them. */
export const POLICY_ACCEPTED = 'Accepted';
export const POLICY_INVALID = 'Invalid';
export const POLICY_CONFLICTED = 'Conflicted';
export const POLICY_RESOLVED_REFS = 'ResolvedRefs';
export const POLICY_SERVICE_NOT_FOUND = 'ServiceNotFound';

/** Where a compiled settings field came from in the policy, for messages users can act on. */
const SPEC_FIELDS: ReadonlyArray<[string, string]> = [
  ['http.expectedStatuses', 'spec.http.expectedStatuses'],
  ['http.path', 'spec.http.path'],
  ['http.host', 'spec.http.host'],
  ['intervalMs', 'spec.interval'],
  ['timeoutMs', 'spec.timeout'],
  ['healthyThreshold', 'spec.healthyThreshold'],
  ['unhealthyThreshold', 'spec.unhealthyThreshold'],
  ['passive.consecutiveFailures', 'spec.passive.consecutiveFailures'],
  ['passive.maxEjectionPercent', 'spec.passive.maxEjectionPercent'],
  ['passive.ejectionMs', 'spec.passive.ejectionTime'],
  ['port', 'spec.port'],
];

/**
 * Decides which policy applies to which Service.
 *
 * - A policy targets the Service `spec.targetRef.name` in its own namespace.
 * - Its settings are `defaults` overridden field by field; if a field does not parse or the
 *   result fails `checkHealthCheckSettings`, it is not accepted (`Invalid`, naming the field)
 *   and takes no part in what follows.
 * - Of the valid policies on one Service the oldest (creationTimestamp, then namespace/name)
 *   applies; the others are `Conflicted`.
 * - A missing Service leaves the policy accepted, with ResolvedRefs False (`ServiceNotFound`):
 *   it applies as soon as the Service appears. `spec.port` need not be a Service port.
 */
export function resolveHealthPolicies(
  policies: readonly HealthCheckPolicy[],
  serviceExists: (namespace: string, name: string) => boolean,
  defaults: Readonly<HealthCheckSettings>,
): HealthPolicyResolution {
  const winners = new Map<string, { policy: string; settings: HealthCheckSettings }>();
  const statuses: PolicyStatus[] = [];
  for (const policy of [...policies].sort(compareByAge)) {
    const namespace = policy.metadata?.namespace ?? '';
    const name = policy.metadata?.name ?? '';
    const target: unknown = policy.spec?.targetRef?.name;
    const service = `${namespace}/${typeof target === 'string' ? target : ''}`;
    const resolvedRefs: PolicyCondition =
      typeof target === 'string' && target !== '' && serviceExists(namespace, target)
        ? { status: 'True', reason: POLICY_RESOLVED_REFS, message: `Service ${service} found` }
        : {
            status: 'False',
            reason: POLICY_SERVICE_NOT_FOUND,
            message: `Service ${service} not found`,
          };
    const compiled = compilePolicy(policy, defaults);
    let accepted: PolicyCondition;
    if (!compiled.ok) {
      accepted = { status: 'False', reason: POLICY_INVALID, message: compiled.message };
    } else {
      const winner = winners.get(service);
      if (winner === undefined) {
        winners.set(service, { policy: `${namespace}/${name}`, settings: compiled.settings });
        accepted = {
          status: 'True',
          reason: POLICY_ACCEPTED,
          message: `applies to Service ${service}`,
        };
      } else {
        accepted = {
          status: 'False',
          reason: POLICY_CONFLICTED,
          message: `Service ${service} already has the older HealthCheckPolicy ${winner.policy}`,
        };
      }
    }
    statuses.push({ namespace, name, accepted, resolvedRefs });
  }
  statuses.sort(
    (a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name),
  );
  return {
    settingsFor: (namespace, service) =>
      cloneHealthCheck(winners.get(`${namespace}/${service}`)?.settings ?? defaults),
    applied: (namespace, service) => winners.get(`${namespace}/${service}`)?.settings,
    statuses,
  };
}

type Compiled = { ok: true; settings: HealthCheckSettings } | { ok: false; message: string };

/** The effective settings of one policy: `defaults` with the policy's fields over them. */
export function compilePolicy(
  policy: HealthCheckPolicy,
  defaults: Readonly<HealthCheckSettings>,
): Compiled {
  const spec = policy.spec ?? {};
  const invalid = (field: string, message: string): Compiled => ({
    ok: false,
    message: `${field}: ${message}`,
  });
  const { group, kind } = spec.targetRef ?? {};
  if ((group ?? '') !== '' || (kind ?? 'Service') !== 'Service') {
    return invalid('spec.targetRef', "must be a Service (group '', kind 'Service')");
  }
  if (typeof spec.targetRef?.name !== 'string' || spec.targetRef.name === '') {
    return invalid('spec.targetRef.name', 'must name a Service');
  }

  const settings = cloneHealthCheck(defaults);
  settings.policy = {
    namespace: policy.metadata?.namespace ?? '',
    name: policy.metadata?.name ?? '',
  };
  if (spec.port !== undefined) settings.port = spec.port;
  if (spec.http?.path !== undefined) settings.http.path = spec.http.path;
  if (spec.http?.host !== undefined) settings.http.host = spec.http.host;
  const durations: Array<[string, unknown, (ms: number) => void]> = [
    ['spec.interval', spec.interval, (ms) => (settings.intervalMs = ms)],
    ['spec.timeout', spec.timeout, (ms) => (settings.timeoutMs = ms)],
    [
      'spec.passive.ejectionTime',
      spec.passive?.ejectionTime,
      (ms) => (settings.passive.ejectionMs = ms),
    ],
  ];
  for (const [field, text, set] of durations) {
    if (text === undefined) continue;
    try {
      set(parseDuration(asText(text)));
    } catch (err) {
      return invalid(field, messageOf(err));
    }
  }
  if (spec.http?.expectedStatuses !== undefined) {
    try {
      settings.http.expectedStatuses = parseStatusRanges(asText(spec.http.expectedStatuses));
    } catch (err) {
      return invalid('spec.http.expectedStatuses', messageOf(err));
    }
  }
  if (spec.healthyThreshold !== undefined) settings.healthyThreshold = spec.healthyThreshold;
  if (spec.unhealthyThreshold !== undefined) settings.unhealthyThreshold = spec.unhealthyThreshold;
  if (spec.passive?.consecutiveFailures !== undefined) {
    settings.passive.consecutiveFailures = spec.passive.consecutiveFailures;
  }
  if (spec.passive?.maxEjectionPercent !== undefined) {
    settings.passive.maxEjectionPercent = spec.passive.maxEjectionPercent;
  }

  const checked = checkHealthCheckSettings(settings);
  const first = checked.problems[0];
  if (first?.field === 'timeoutMs' && settings.timeoutMs >= settings.intervalMs) {
    // Say it in the policy's terms: either field may be the one the user set.
    return invalid(
      'spec.timeout',
      `must be less than the interval (timeout ${settings.timeoutMs}ms, interval ${settings.intervalMs}ms)`,
    );
  }
  if (first !== undefined) return invalid(specField(first.field), first.message);
  return { ok: true, settings };
}

/** A deep copy, so no two backends (and no caller's frozen default) share objects. */
export function cloneHealthCheck(source: Readonly<HealthCheckSettings>): HealthCheckSettings {
  const copy: HealthCheckSettings = {
    http: {
      path: source.http.path,
      expectedStatuses: source.http.expectedStatuses.map(([lo, hi]) => [lo, hi]),
    },
    intervalMs: source.intervalMs,
    timeoutMs: source.timeoutMs,
    healthyThreshold: source.healthyThreshold,
    unhealthyThreshold: source.unhealthyThreshold,
    passive: {
      consecutiveFailures: source.passive.consecutiveFailures,
      maxEjectionPercent: source.passive.maxEjectionPercent,
      ejectionMs: source.passive.ejectionMs,
    },
  };
  if (source.policy !== undefined) copy.policy = { ...source.policy };
  if (source.port !== undefined) copy.port = source.port;
  if (source.http.host !== undefined) copy.http.host = source.http.host;
  return copy;
}

function specField(field: string): string {
  for (const [prefix, spec] of SPEC_FIELDS) {
    if (field === prefix || field.startsWith(`${prefix}[`)) return spec;
  }
  return field === '' ? 'spec' : `spec.${field}`;
}

/** Durations and status lists are strings in the schema; a number written in YAML is not. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : `${JSON.stringify(value)} (not a string)`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
