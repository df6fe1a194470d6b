/**
 * One page of a list request, read as plain JSON.
 *
 * The generated API clients of @kubernetes/client-node turn every listed object into instances
 * of its model classes (`ObjectSerializer.deserialize`): a second, typed copy of each object,
 * with Date objects for its timestamps, made only to be trimmed and dropped (object-trim.ts).
 * Listing the 40,000 objects of a 10,000-Ingress cluster, that copy was about a sixth of the
 * controller's CPU time at start and most of the garbage that grew its heap while it synced
 * (docs/benchmarks.md). The library's watch reads plain JSON already, so the caches held both
 * kinds of object; now they hold one.
 *
 * The request is made as the library's watch makes it: the same KubeConfig authenticates it
 * (`applySecurityAuthentication`, whose connection pool PooledKubeConfig shares) and undici sends
 * it; a status other than 200 rejects with the library's `ApiException`, as a generated client's
 * call does.
 */
import {
  ApiException,
  HttpMethod,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  RequestContext,
} from '@kubernetes/client-node';
import { fetch } from 'undici';
import type { ListPageFn } from './paged-list.ts';

/** Longest a page may take to arrive, ms: a stalled request fails and the list is retried. */
export const LIST_PAGE_TIMEOUT_MS = 60_000;

/**
 * A function that lists one page of `path` (e.g. `/apis/networking.k8s.io/v1/ingresses`, every
 * namespace), restricted by `fieldSelector` when given.
 */
export function rawListPage<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  fieldSelector?: string,
): ListPageFn<T> {
  return async (page) => {
    const cluster = kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error(`listing ${path}: the kubeconfig has no current cluster`);
    const url = new URL(cluster.server + path);
    url.searchParams.set('limit', String(page.limit));
    if (page._continue !== undefined) url.searchParams.set('continue', page._continue);
    if (fieldSelector !== undefined) url.searchParams.set('fieldSelector', fieldSelector);
    const context = new RequestContext(url.toString(), HttpMethod.GET);
    await kubeConfig.applySecurityAuthentication(context);
    const response = await fetch(url, {
      headers: context.getHeaders(),
      dispatcher: context.getDispatcher(),
      signal: AbortSignal.timeout(LIST_PAGE_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.status !== 200) {
      throw new ApiException<string>(
        response.status,
        `listing ${path}: ${response.status} ${response.statusText}`,
        text,
        Object.fromEntries(response.headers),
      );
    }
    return JSON.parse(text) as KubernetesListObject<T>;
  };
}
