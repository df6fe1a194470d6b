/**
 * The Node flags a dataplane process runs with: the image's `pier-dataplane` passes them, and so
 * do the suite's and the benchmarks' dataplanes; started without them, the dataplane says so.
 * Each is there because of a measurement (the update-stall benchmark, one core, 50,000-endpoint
 * updates; docs/benchmarks.md):
 *
 * - `--minor-ms`: V8's young-generation mark-sweep instead of its scavenger. What a large table
 *   update allocates on the serving thread stays alive (the parsed entries, the route index),
 *   and the scavenger copies every live young object in one pause: 53-100 ms. Mark-sweep marks
 *   them and promotes whole pages: up to 41 ms.
 * - `--minor-ms-max-new-space-capacity-mb=8`: a young generation of at most 16 MiB per isolate
 *   (twice the figure, as Node builds V8 without pointer compression) instead of 144 MiB, so
 *   that one young-generation pause has less to mark: up to 23 ms.
 */
export const DATAPLANE_NODE_FLAGS: readonly string[] = [
  '--minor-ms',
  '--minor-ms-max-new-space-capacity-mb=8',
];

/** The flags of {@link DATAPLANE_NODE_FLAGS} that a process started with `execArgv` lacks. */
export function missingNodeFlags(execArgv: readonly string[]): string[] {
  return DATAPLANE_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
