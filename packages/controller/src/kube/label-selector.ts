/** Standard Kubernetes label selectors (`matchLabels` and `matchExpressions`), matched purely. */

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/**
 * Whether labels match a selector (all of `matchLabels` and `matchExpressions` must hold); an
 * empty or missing selector matches everything. An operator the schema does not know matches
 * nothing, so a bad selector selects nothing rather than all.
 */
export function matchesLabelSelector(
  labels: Readonly<Record<string, string>>,
  selector: LabelSelector | undefined,
): boolean {
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const e of selector?.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const values = e.values ?? [];
    const ok =
      e.operator === 'In'
        ? has && values.includes(value ?? '')
        : e.operator === 'NotIn'
          ? !has || !values.includes(value ?? '')
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}
