/**
 * Problems the route compiler reports, one per object at fault, for Events and status
 * conditions; how they are keyed (a problem said twice is one problem) and ordered. Pure.
 */
import { compareStrings } from '../kube/object-age.ts';

/** Something wrong with one object, for an Event on it. */
export interface CompileProblem {
  object: { kind: 'Ingress' | 'HealthCheckPolicy' | 'Secret'; namespace: string; name: string };
  type: 'Warning' | 'Normal';
  reason: string;
  message: string;
}

/** Equal for problems that are the same to a user: same object, reason and message. */
export function problemKey(problem: CompileProblem): string {
  const { kind, namespace, name } = problem.object;
  return JSON.stringify([kind, namespace, name, problem.reason, problem.message]);
}

/** A Warning on the Ingress `namespace/name`. */
export function ingressProblem(
  namespace: string,
  name: string,
  reason: string,
  message: string,
): CompileProblem {
  return { object: { kind: 'Ingress', namespace, name }, type: 'Warning', reason, message };
}

/** The order of `CompileOutput.problems`: by object (kind, namespace, name), reason, message. */
export function compareProblems(a: CompileProblem, b: CompileProblem): number {
  return (
    compareStrings(a.object.kind, b.object.kind) ||
    compareStrings(a.object.namespace, b.object.namespace) ||
    compareStrings(a.object.name, b.object.name) ||
    compareStrings(a.reason, b.reason) ||
    compareStrings(a.message, b.message) ||
    compareStrings(a.type, b.type)
  );
}
