/**
 * The `pier.dev/ignored-annotations` mark: on each Ingress Pier serves, the ingress-nginx
 * annotations it does not honour, as one annotation a script can read
 * (`kubectl get ingress -o jsonpath='{.metadata.annotations.pier\.dev/ignored-annotations}'`).
 * Ingress status has no conditions, and its `loadBalancer` says nothing of annotations, so the
 * mark is an annotation of Pier's own prefix, as MetalLB marks a Service with the pool its
 * address came from. Events say the same with the reason, but they expire; the mark stays while
 * it holds.
 *
 * The value is the ignored annotations' full names, sorted and comma-separated; no mark when
 * none is ignored. Pier's mark goes with Pier: it is cleared when the last ignored annotation
 * goes and when the Ingress stops being Pier's. It is written only when it differs from what the
 * Ingress shows, so the write (a watch event) compiles that Ingress once more and stops there.
 * Without `patch` on Ingresses in its RBAC, the controller says so once a leadership term and
 * writes no marks: Events and the metric still carry the report.
 */
import type { V1Ingress } from '@kubernetes/client-node';
import type { PierLogger } from '@pier/shared';
import type { ObjectSource } from '../addresses/address-controller.ts';
import { ignoredAnnotationOf, REASON_ANNOTATION_IGNORED } from '../ingress/ingress-plan.ts';
import type { KubeWriter } from '../kube/kube-writer.ts';
import type { CompileProblem } from './route-compiler.ts';

/** The annotation Pier writes on an Ingress naming the annotations it does not honour. */
export const IGNORED_ANNOTATIONS_ANNOTATION = 'pier.dev/ignored-annotations';

/** `namespace/name`, the key of an Ingress in the marks. */
function ingressKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * The mark each Ingress should carry, by `namespace/name`, from a compile's problems: its
 * ignored annotations, each once, sorted, comma-separated. Ingresses without one are absent.
 */
export function ignoredAnnotationMarks(problems: readonly CompileProblem[]): Map<string, string> {
  const byIngress = new Map<string, Set<string>>();
  for (const p of problems) {
    if (p.reason !== REASON_ANNOTATION_IGNORED || p.object.kind !== 'Ingress') continue;
    const key = ingressKey(p.object.namespace, p.object.name);
    const names = byIngress.get(key) ?? new Set<string>();
    byIngress.set(key, names);
    names.add(ignoredAnnotationOf(p.message));
  }
  const marks = new Map<string, string>();
  for (const [key, names] of byIngress) marks.set(key, [...names].sort().join(','));
  return marks;
}

/** What {@link IgnoredAnnotationMarker} needs. */
export interface MarkerDeps {
  ingresses: ObjectSource<V1Ingress>;
  /** Whether the Ingress is of a class Pier serves. */
  isOurs: (ingress: V1Ingress) => boolean;
  writer: Pick<KubeWriter, 'setIngressAnnotation'>;
  logger: PierLogger;
  /** False once the replica stopped leading: the new leader writes the rest. */
  leading: () => boolean;
}

/**
 * Keeps the marks of the Ingresses true, from the newest compile's problems. Runs on the leader,
 * after the Events ({@link RouteController}'s follow-up).
 */
export class IgnoredAnnotationMarker {
  readonly #d: MarkerDeps;
  /** Ingresses marked after the last {@link write} (or whose write failed): checked next time. */
  #marked = new Set<string>();
  /** Whether this term looked for marks left on Pier's Ingresses by an earlier one. */
  #swept = false;
  /** The API server refused the write (403): no marks this term. */
  #forbidden = false;

  constructor(deps: MarkerDeps) {
    this.#d = deps;
  }

  /** A new leadership term: look again for marks left over, and try writing again. */
  startTerm(): void {
    this.#marked.clear();
    this.#swept = false;
    this.#forbidden = false;
  }

  /** Brings every concerned Ingress's mark to what `problems` say. */
  async write(problems: readonly CompileProblem[]): Promise<void> {
    if (this.#forbidden) return;
    const d = this.#d;
    const wanted = ignoredAnnotationMarks(problems);
    const candidates = new Set([...wanted.keys(), ...this.#marked]);
    if (!this.#swept) {
      this.#swept = true;
      for (const ingress of d.ingresses.list()) {
        const meta = ingress.metadata;
        if (meta?.annotations?.[IGNORED_ANNOTATIONS_ANNOTATION] === undefined) continue;
        if (!d.isOurs(ingress)) continue;
        candidates.add(ingressKey(meta.namespace ?? '', meta.name ?? ''));
      }
    }
    const marked = new Set<string>();
    for (const key of candidates) {
      if (!d.leading()) return;
      const slash = key.indexOf('/');
      const ingress = d.ingresses.get(key.slice(slash + 1), key.slice(0, slash));
      if (ingress === undefined) continue;
      const want = wanted.get(key);
      if (want !== undefined) marked.add(key);
      if (ingress.metadata?.annotations?.[IGNORED_ANNOTATIONS_ANNOTATION] === want) continue;
      try {
        await d.writer.setIngressAnnotation(ingress, IGNORED_ANNOTATIONS_ANNOTATION, want);
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === 404) continue;
        if (code === 403) {
          this.#forbidden = true;
          d.logger.warn(
            { err: String(err) },
            `cannot write ${IGNORED_ANNOTATIONS_ANNOTATION} (RBAC lacks patch on ingresses): ` +
              'ignored annotations are reported by Events and the metric only',
          );
          return;
        }
        // Tried again after the next compile.
        marked.add(key);
        d.logger.warn(
          { ingress: key, err: String(err) },
          'could not write the ignored-annotations mark',
        );
      }
    }
    this.#marked = marked;
  }
}
