import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { type ListPage, listInPages } from './paged-list.ts';

type Obj = KubernetesObject & { spec?: { big?: string } };

const obj = (name: string): Obj => ({ metadata: { name, namespace: 'ns' }, spec: { big: 'x' } });

/**
 * A fake API server holding `names`, served `limit` at a time from the snapshot at resourceVersion
 * `rv` (later pages carry another resourceVersion, which the result must not take).
 */
function server(names: string[], rv: string, continueKey: '_continue' | 'continue') {
  const asked: ListPage[] = [];
  const listPage = async (page: ListPage): Promise<KubernetesListObject<Obj>> => {
    asked.push(page);
    const from = page._continue === undefined ? 0 : Number(page._continue);
    const to = from + page.limit;
    const metadata: Record<string, string> = { resourceVersion: from === 0 ? rv : `${rv}-later` };
    if (to < names.length) metadata[continueKey] = String(to);
    return {
      apiVersion: 'v1',
      kind: 'ThingList',
      metadata,
      items: names.slice(from, to).map(obj),
    };
  };
  return { asked, listPage };
}

const cases = [
  { what: 'fewer objects than a page', count: 3, pageSize: 5, pages: 1, key: '_continue' },
  { what: 'an exact number of pages', count: 10, pageSize: 5, pages: 2, key: '_continue' },
  { what: 'a last page part full', count: 11, pageSize: 5, pages: 3, key: '_continue' },
  { what: 'no objects', count: 0, pageSize: 5, pages: 1, key: '_continue' },
  {
    what: 'raw JSON (custom objects): `continue`',
    count: 7,
    pageSize: 3,
    pages: 3,
    key: 'continue',
  },
] as const;

for (const c of cases) {
  test(`listInPages: ${c.what}`, async () => {
    const names = Array.from({ length: c.count }, (_, i) => `obj-${i}`);
    const { asked, listPage } = server(names, '42', c.key);
    const trimmed: string[] = [];
    const list = await listInPages(
      listPage,
      (o) => {
        trimmed.push(o.metadata?.name ?? '');
        return { metadata: o.metadata };
      },
      c.pageSize,
    );
    assert.equal(asked.length, c.pages, 'one request per page');
    assert.deepEqual(
      asked.map((p) => p.limit),
      Array(c.pages).fill(c.pageSize),
    );
    assert.equal(asked[0]?._continue, undefined, 'the first request has no token');
    assert.deepEqual(
      list.items.map((o) => o.metadata?.name),
      names,
      'every object, in order',
    );
    assert.deepEqual(trimmed, names, 'each object trimmed once');
    assert.ok(
      list.items.every((o) => (o as Obj).spec === undefined),
      'the list holds trimmed objects',
    );
    assert.deepEqual(list.metadata, { resourceVersion: '42' }, "the first page's snapshot");
    assert.equal(list.kind, 'ThingList');
  });
}

test('listInPages: a failing page rejects the whole list', async () => {
  let calls = 0;
  await assert.rejects(
    listInPages(async (page) => {
      calls++;
      if (page._continue !== undefined) throw new Error('410 Gone: continue token expired');
      return { metadata: { resourceVersion: '1', _continue: 'next' }, items: [obj('a')] };
    }),
    /410 Gone/,
  );
  assert.equal(calls, 2);
});
