import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import { createLogger } from '@pier/shared';
import { annotationIgnoredMessage, REASON_ANNOTATION_IGNORED } from '../ingress/ingress-plan.ts';
import {
  IgnoredAnnotationMarker,
  ignoredAnnotationMarks,
  IGNORED_ANNOTATIONS_ANNOTATION as MARK,
} from './ignored-annotations-mark.ts';
import type { CompileProblem } from './route-compiler.ts';

const P = 'nginx.ingress.kubernetes.io/';
const logger = createLogger({ name: 'test', level: 'silent' });

function ignored(name: string, annotation: string): CompileProblem {
  return {
    object: { kind: 'Ingress', namespace: 'shop', name },
    type: 'Warning',
    reason: REASON_ANNOTATION_IGNORED,
    message: annotationIgnoredMessage(annotation, 'a reason'),
  };
}

function ingress(
  name: string,
  annotations?: Record<string, string>,
  className = 'nginx',
): V1Ingress {
  return {
    metadata: { namespace: 'shop', name, ...(annotations ? { annotations } : {}) },
    spec: { ingressClassName: className },
  };
}

/** The Ingresses as a watched cache holds them, and the writes a marker makes (applied to them). */
function cluster(objects: V1Ingress[], failWith?: number) {
  const byName = new Map(objects.map((i) => [i.metadata?.name ?? '', i]));
  const writes: Array<[string, string | undefined]> = [];
  const tries = { count: 0 };
  const marker = new IgnoredAnnotationMarker({
    ingresses: { list: () => [...byName.values()], get: (name) => byName.get(name) },
    isOurs: (i) => i.spec?.ingressClassName === 'nginx',
    logger,
    leading: () => true,
    writer: {
      setIngressAnnotation: async (target, key, value) => {
        tries.count++;
        if (failWith !== undefined) throw Object.assign(new Error('refused'), { code: failWith });
        const name = target.metadata?.name ?? '';
        writes.push([name, value]);
        const { [key]: _old, ...rest } = target.metadata?.annotations ?? {};
        byName.set(name, {
          ...target,
          metadata: {
            ...target.metadata,
            annotations: value === undefined ? rest : { ...rest, [key]: value },
          },
        });
      },
    },
  });
  return { marker, writes, byName, tries };
}

test('the mark lists each ignored annotation once, sorted; other problems and kinds are not in it', () => {
  const marks = ignoredAnnotationMarks([
    ignored('a', `${P}server-snippet`),
    ignored('a', `${P}configuration-snippet`),
    ignored('a', `${P}server-snippet`),
    { ...ignored('b', `${P}x`), reason: 'InvalidAnnotation' },
    { ...ignored('c', `${P}x`), object: { kind: 'Secret', namespace: 'shop', name: 'c' } },
  ]);
  assert.deepEqual([...marks], [['shop/a', `${P}configuration-snippet,${P}server-snippet`]]);
});

test('marks are written once, left alone while true, and cleared when nothing is ignored any more', async () => {
  const { marker, writes } = cluster([ingress('a'), ingress('b')]);
  await marker.write([ignored('a', `${P}server-snippet`)]);
  assert.deepEqual(writes, [['a', `${P}server-snippet`]]);
  await marker.write([ignored('a', `${P}server-snippet`)]);
  assert.equal(writes.length, 1, 'an unchanged mark is not written again');
  await marker.write([]);
  assert.deepEqual(writes[1], ['a', undefined]);
  await marker.write([]);
  assert.equal(writes.length, 2);
});

test('a new term clears marks left on Pier’s Ingresses, never on another class’s', async () => {
  const { marker, writes } = cluster([
    ingress('stale', { [MARK]: `${P}server-snippet` }),
    ingress('theirs', { [MARK]: `${P}server-snippet` }, 'other'),
    ingress('kept', { [MARK]: `${P}proxy-buffering` }),
  ]);
  await marker.write([ignored('kept', `${P}proxy-buffering`)]);
  assert.deepEqual(writes, [['stale', undefined]]);
});

test('an Ingress that leaves Pier’s class during the term loses the mark Pier wrote', async () => {
  const { marker, writes, byName } = cluster([ingress('a')]);
  await marker.write([ignored('a', `${P}server-snippet`)]);
  const marked = byName.get('a');
  assert.ok(marked);
  byName.set('a', { ...marked, spec: { ingressClassName: 'other' } });
  await marker.write([]);
  assert.deepEqual(writes.at(-1), ['a', undefined]);
});

test('without patch on Ingresses (403) the marker stops until the next term', async () => {
  const { marker, tries } = cluster([ingress('a'), ingress('b')], 403);
  const both = [ignored('a', `${P}server-snippet`), ignored('b', `${P}server-snippet`)];
  await marker.write(both);
  await marker.write(both);
  assert.equal(tries.count, 1, 'one refused write, then none');
  marker.startTerm();
  await marker.write(both);
  assert.equal(tries.count, 2, 'a new term tries again');
});

test('a failed write (not 403) is tried again after the next compile', async () => {
  const { marker, tries } = cluster([ingress('a')], 500);
  await marker.write([ignored('a', `${P}server-snippet`)]);
  await marker.write([ignored('a', `${P}server-snippet`)]);
  assert.equal(tries.count, 2);
});
