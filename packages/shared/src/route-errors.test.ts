import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reporter } from './field-reader.ts';
import {
  checkRouteErrors,
  errorHeaders,
  interceptsOwn,
  interceptsUpstream,
} from './route-errors.ts';
import type { RouteErrors } from './route-table.ts';

// ingress-nginx's nginx.tmpl: `proxy_intercept_errors on` unless disabled, `error_page` always.
test('route errors: which statuses are replaced, from the upstream and from Pier', () => {
  const rows: Array<[RouteErrors, number, boolean, boolean]> = [
    [{ codes: [404, 503] }, 404, true, true],
    [{ codes: [404, 503] }, 500, false, false],
    [{ codes: [404, 503] }, 200, false, false],
    [{ codes: [503], upstreamPasses: true }, 503, false, true],
    [{ backend: 'shop/errors:80' }, 503, false, false],
  ];
  for (const [errors, status, upstream, own] of rows) {
    assert.equal(
      interceptsUpstream(errors, status),
      upstream,
      `${JSON.stringify(errors)} ${status}`,
    );
    assert.equal(interceptsOwn(errors, status), own, `${JSON.stringify(errors)} ${status}`);
  }
});

test('route errors: the headers of custom-errors.md', () => {
  assert.deepEqual(
    errorHeaders({
      code: 404,
      accept: 'application/json',
      originalUri: '/a?b=1',
      namespace: 'shop',
      ingress: 'web',
      service: 'app',
      servicePort: 'http',
      requestId: undefined,
    }),
    [
      'x-code',
      '404',
      'x-format',
      'application/json',
      'x-original-uri',
      '/a?b=1',
      'x-namespace',
      'shop',
      'x-ingress-name',
      'web',
      'x-service-name',
      'app',
      'x-service-port',
      'http',
      'x-request-id',
      '',
    ],
  );
});

test('route errors: validation', () => {
  const rows: Array<[unknown, RouteErrors | undefined, string[]]> = [
    [{ codes: [404, 503] }, { codes: [404, 503] }, []],
    [
      { backend: 'shop/e:80', codes: [500], upstreamPasses: true },
      { backend: 'shop/e:80', codes: [500], upstreamPasses: true },
      [],
    ],
    [{ backend: 'shop/e:80', upstreamPasses: false }, { backend: 'shop/e:80' }, []],
    [{ codes: [503, 404] }, undefined, ['errors.codes: must be 1-200 statuses 400-599, ascending']],
    [{ codes: [302] }, undefined, ['errors.codes: must be 1-200 statuses 400-599, ascending']],
    [{ codes: [] }, undefined, ['errors.codes: must be 1-200 statuses 400-599, ascending']],
    [{}, undefined, ['errors: must name a backend or codes']],
    ['x', undefined, ['errors: must be an object']],
  ];
  for (const [raw, want, problems] of rows) {
    const seen: string[] = [];
    const report = reporter((field, message) => seen.push(`${field}: ${message}`));
    assert.deepEqual(checkRouteErrors(raw, 'errors.', report), want, JSON.stringify(raw));
    assert.deepEqual(seen, problems, JSON.stringify(raw));
  }
});
