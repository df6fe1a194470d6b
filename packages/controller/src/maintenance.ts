/**
 * Calendar-style maintenance jobs of the leader (node-cron):
 *
 * - certificate expiry: every hour (and once at start), a served certificate
 *   that expires within 14 days, or has expired, gets a Warning Event on its
 *   Secret and its remaining seconds in `pier_certificate_expiry_seconds`;
 * - drift check: every minute, Redis is compared with the last compiled table
 *   and repaired (republished) when it differs, counted in
 *   `pier_redis_drift_repairs_total`;
 * - change-log trimming: every ten minutes the change log is trimmed to its
 *   bound even when nothing was published for a while.
 */
import type { Certificate, PierLogger } from '@pier/shared';
import { type ScheduledTask, schedule } from 'node-cron';
import type { ControllerMetrics } from './controller-metrics.ts';
import type { KubeWriter } from './kube/kube-writer.ts';

/** Expiring within this many days is worth a warning. */
export const CERT_WARNING_DAYS = 14;
export const REASON_CERTIFICATE_EXPIRING = 'CertificateExpiring';
export const REASON_CERTIFICATE_EXPIRED = 'CertificateExpired';

export interface MaintenanceDeps {
  /** Certificates of the last published table. */
  certificates: () => readonly Certificate[];
  /** Compares Redis with the compiled table; republishes and returns true when it had drifted. */
  repairDrift: () => Promise<boolean>;
  trimLog: () => Promise<void>;
  writer: KubeWriter;
  metrics: ControllerMetrics;
  logger: PierLogger;
  now?: () => Date;
}

/** What an expiry check concludes for one certificate; pure, for tests. */
export function expiryVerdict(
  notAfter: string | undefined,
  now: Date,
): { seconds: number; reason?: string; message?: string } | undefined {
  if (notAfter === undefined) return undefined;
  const end = new Date(notAfter);
  if (Number.isNaN(end.getTime())) return undefined;
  const seconds = Math.round((end.getTime() - now.getTime()) / 1000);
  if (seconds <= 0) {
    return {
      seconds,
      reason: REASON_CERTIFICATE_EXPIRED,
      message: `certificate expired at ${end.toISOString()}`,
    };
  }
  if (seconds <= CERT_WARNING_DAYS * 86_400) {
    const days = Math.floor(seconds / 86_400);
    return {
      seconds,
      reason: REASON_CERTIFICATE_EXPIRING,
      message: `certificate expires at ${end.toISOString()} (in ${days} days)`,
    };
  }
  return { seconds };
}

export class Maintenance {
  readonly #d: MaintenanceDeps;
  #tasks: ScheduledTask[] = [];

  constructor(deps: MaintenanceDeps) {
    this.#d = deps;
  }

  start(): void {
    if (this.#tasks.length > 0) return;
    const opts = { noOverlap: true };
    this.#tasks = [
      schedule('0 * * * *', () => this.checkCertificates(), opts),
      schedule('* * * * *', () => this.#repair(), opts),
      schedule('*/10 * * * *', () => this.#trim(), opts),
    ];
    void this.checkCertificates();
  }

  async stop(): Promise<void> {
    for (const t of this.#tasks) await t.stop();
    this.#tasks = [];
  }

  /** One expiry pass (also run by the hourly job). */
  async checkCertificates(): Promise<void> {
    const now = (this.#d.now ?? (() => new Date()))();
    this.#d.metrics.certificateExpirySeconds.reset();
    for (const cert of this.#d.certificates()) {
      const verdict = expiryVerdict(cert.notAfter, now);
      if (!verdict) continue;
      this.#d.metrics.certificateExpirySeconds.set(
        { namespace: cert.secret.namespace, secret: cert.secret.name },
        verdict.seconds,
      );
      if (!verdict.reason || !verdict.message) continue;
      this.#d.logger.warn({ ...cert.secret, reason: verdict.reason }, verdict.message);
      try {
        await this.#d.writer.recordEvent(
          {
            apiVersion: 'v1',
            kind: 'Secret',
            namespace: cert.secret.namespace,
            name: cert.secret.name,
          },
          'Warning',
          verdict.reason,
          verdict.message,
        );
      } catch (err) {
        this.#d.logger.warn({ err: String(err) }, 'could not record an Event');
      }
    }
  }

  async #repair(): Promise<void> {
    try {
      if (await this.#d.repairDrift()) {
        this.#d.metrics.redisDriftRepairs.inc();
        this.#d.logger.warn('Redis did not match the compiled routes; republished');
      }
    } catch (err) {
      this.#d.logger.warn({ err: String(err) }, 'drift check failed');
    }
  }

  async #trim(): Promise<void> {
    try {
      await this.#d.trimLog();
    } catch (err) {
      this.#d.logger.warn({ err: String(err) }, 'change-log trimming failed');
    }
  }
}
