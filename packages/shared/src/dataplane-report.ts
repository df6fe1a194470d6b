/**
 * What a dataplane node tells operators about itself through Redis (`dataplaneReportKey(node)`):
 * the route-table revision it serves and since when. Written with every heartbeat, read by the
 * dashboard; informative only, no decision depends on it.
 */
/** One node's report. Times are ms since the epoch, by the writer's clock. */
export interface DataplaneReport {
  /** The revision of the route table the node serves; 0 before it has one. */
  revision: number;
  /** When the node began serving that revision. */
  revisionSince: number;
  /** When the node's dataplane process started. */
  startedAt: number;
}

/** The report as the key's value (JSON). */
export function encodeDataplaneReport(report: DataplaneReport): string {
  return JSON.stringify({
    revision: report.revision,
    revisionSince: report.revisionSince,
    startedAt: report.startedAt,
  });
}

/**
 * The report in a key's value, or undefined when it is not one (another version wrote it, or
 * it is damaged): a reader shows the node without it rather than a wrong figure.
 */
export function parseDataplaneReport(text: string | null | undefined): DataplaneReport | undefined {
  if (typeof text !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const { revision, revisionSince, startedAt } = value as Record<string, unknown>;
  const count = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!count(revision) || !count(revisionSince) || !count(startedAt)) return undefined;
  return { revision, revisionSince, startedAt };
}
