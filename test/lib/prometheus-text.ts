/**
 * Reading what a Pier process serves at /metrics (the Prometheus text format), as a scraper
 * would: the families it declares and the value of one series.
 */

/** The text of `http://127.0.0.1:<port>/metrics`. */
export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok) throw new Error(`/metrics on port ${port} answered ${res.status}`);
  return res.text();
}

/** Suffixes of the series a family of each type has besides (or instead of) its own name. */
const SERIES_SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/**
 * Every series name a query may use, from the `# TYPE` lines: a family's own name, and for a
 * histogram its `_bucket`, `_sum` and `_count` (for a summary `_sum` and `_count` too). A family
 * is declared even before it has a sample (a labelled metric nothing has set yet).
 */
export function seriesNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type = ''] = m;
    for (const suffix of SERIES_SUFFIXES[type] ?? ['']) names.add(name + suffix);
  }
  return names;
}

/** The value of `name{labels…}` (the given labels must match; others may be there too). */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const close = rest[0] === '{' ? rest.lastIndexOf('}') : 0;
    const found = new Map<string, string>();
    if (rest[0] === '{') {
      for (const m of rest.slice(1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        found.set(m[1] as string, m[2] as string);
      }
    }
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) {
      return Number(
        rest
          .slice(close + 1)
          .trim()
          .split(' ')[0],
      );
    }
  }
  return undefined;
}
