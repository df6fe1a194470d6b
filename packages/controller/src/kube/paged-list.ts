/**
 * Lists a resource a page at a time, trimming each page before asking for the next.
 *
 * An unpaged list of 10,000 Ingresses, Services or EndpointSlices arrives as one response: its
 * text and every parsed object (managedFields included) are alive at once, tens of MiB per
 * resource, and the controller lists five such resources together when it starts and the
 * Ingresses and Services again when it becomes leader. Listed in pages (raw-list.ts reads one),
 * only one page of each is untrimmed at a time.
 */
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

/** Objects asked for per request (client-go's informers list 500 at a time too). */
export const LIST_PAGE_SIZE = 500;

/** The paging parameters of one list request, as the generated API clients name them. */
export interface ListPage {
  limit: number;
  _continue?: string;
}

/** One list request of a resource, for the page asked for. */
export type ListPageFn<T extends KubernetesObject> = (
  page: ListPage,
) => Promise<KubernetesListObject<T>>;

/**
 * Every object of the resource, each passed through `trim` as its page arrives. The API server
 * serves all pages of one list from the snapshot of the first, whose resourceVersion the result
 * carries: a watch resumes from it as after an unpaged list.
 *
 * @throws what a page request throws; a continue token that expired (410 Gone, when the pages
 *   take longer than the API server keeps the snapshot) rejects as well, and the caller lists
 *   again from the start.
 */
export async function listInPages<T extends KubernetesObject>(
  listPage: ListPageFn<T>,
  trim: (object: T) => T = (object) => object,
  pageSize: number = LIST_PAGE_SIZE,
): Promise<KubernetesListObject<T>> {
  const items: T[] = [];
  let head: Pick<KubernetesListObject<T>, 'apiVersion' | 'kind'> | undefined;
  let resourceVersion: string | undefined;
  let token: string | undefined;
  do {
    const page = await listPage(
      token === undefined ? { limit: pageSize } : { limit: pageSize, _continue: token },
    );
    if (head === undefined) {
      head = { apiVersion: page.apiVersion, kind: page.kind };
      resourceVersion = page.metadata?.resourceVersion;
    }
    for (const item of page.items) items.push(trim(item));
    token = continueToken(page) || undefined;
  } while (token !== undefined);
  return {
    ...head,
    metadata: resourceVersion === undefined ? {} : { resourceVersion },
    items,
  };
}

/**
 * The token of the next page: `_continue` as the typed clients deserialize it, `continue` in the
 * raw JSON the custom objects API returns.
 */
function continueToken(page: KubernetesListObject<KubernetesObject>): string | undefined {
  const meta = page.metadata as { _continue?: string; continue?: string } | undefined;
  return meta?._continue ?? meta?.continue;
}
