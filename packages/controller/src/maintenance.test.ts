import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expiryVerdict } from './maintenance.ts';

const now = new Date('2026-11-21T12:00:00Z');
const day = 86_400;

const cases: Array<
  [string, string | undefined, { seconds?: number; reason?: string } | undefined]
> = [
  ['no date', undefined, undefined],
  ['garbage', 'not a date', undefined],
  ['far away: metric only', '2027-11-21T12:00:00Z', { seconds: 365 * day }],
  ['15 days: metric only', '2026-12-06T12:00:00Z', { seconds: 15 * day }],
  [
    'exactly 14 days: warning',
    '2026-12-05T12:00:00Z',
    { seconds: 14 * day, reason: 'CertificateExpiring' },
  ],
  ['one hour: warning', '2026-11-21T13:00:00Z', { seconds: 3600, reason: 'CertificateExpiring' }],
  ['now: expired', '2026-11-21T12:00:00Z', { seconds: 0, reason: 'CertificateExpired' }],
  ['yesterday: expired', '2026-11-20T12:00:00Z', { seconds: -day, reason: 'CertificateExpired' }],
];

for (const [name, notAfter, want] of cases) {
  test(`certificate expiry: ${name}`, () => {
    const got = expiryVerdict(notAfter, now);
    if (want === undefined) return assert.equal(got, undefined);
    assert.equal(got?.seconds, want.seconds);
    assert.equal(got?.reason, want.reason);
    if (want.reason) assert.match(got?.message ?? '', /certificate expire/);
  });
}
