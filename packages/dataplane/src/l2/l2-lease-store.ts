/**
 * The L2 leases in Redis: one key per address (`vipLeaseKey`), value `<epoch> <node> <token>`,
 * with a short TTL. Every operation is one Lua script, so it is atomic on the server:
 *
 * - acquire: only when no key exists; increments the address's epoch (`vipEpochKey`, never
 *   expired) in the same script, so every holding gets a number no earlier one had;
 * - renew and release: compare-and-set on the whole value, so a holder whose lease expired and
 *   was taken (a higher epoch) can neither extend nor delete its successor's;
 * - renew also re-takes a lease that no longer exists when the epoch counter has not moved past
 *   the holder's (nobody held the address since: a renewal came late, or Redis restarted empty),
 *   so a Redis restart costs no hand-over; the counter is raised to the holder's epoch, so the
 *   next acquisition is still numbered above it.
 */
import { formatL2Lease, type L2Lease, parseL2Lease, vipEpochKey, vipLeaseKey } from '@pier/shared';
import type { Redis } from 'ioredis';

const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], epoch .. ' ' .. ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
return epoch`;

const RENEW = `
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if value then return 0 end
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
if epoch > tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Lease operations on one Redis connection; every call rejects when Redis does not answer. */
export class L2LeaseStore {
  readonly #redis: Redis;
  readonly #node: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  /**
   * @param token random per process: a restarted dataplane never renews its predecessor's lease.
   * @param timeoutMs how long a command may take before it counts as failed (Redis unreachable).
   */
  constructor(options: { redis: Redis; node: string; token: string; timeoutMs: number }) {
    this.#redis = options.redis;
    this.#node = options.node;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs;
  }

  /** The holders of `addresses` (undefined: free), in one round trip. */
  async read(addresses: readonly string[]): Promise<Map<string, L2Lease | undefined>> {
    const result = new Map<string, L2Lease | undefined>();
    if (addresses.length === 0) return result;
    const values = await this.#timed(this.#redis.mget(...addresses.map((a) => vipLeaseKey(a))));
    for (const [i, address] of addresses.entries()) result.set(address, parseL2Lease(values[i]));
    return result;
  }

  /** Takes a free lease; its value, or undefined when someone holds it. */
  async acquire(address: string, ttlMs: number): Promise<L2Lease | undefined> {
    const epoch = (await this.#timed(
      this.#redis.eval(
        ACQUIRE,
        2,
        vipLeaseKey(address),
        vipEpochKey(address),
        this.#node,
        this.#token,
        String(ttlMs),
      ),
    )) as number | null;
    return epoch === null ? undefined : { epoch, node: this.#node, token: this.#token };
  }

  /**
   * Extends a lease still held with exactly this value, or re-takes it if nobody held it since;
   * false when it was lost (another holder now, or one since).
   */
  async renew(address: string, lease: L2Lease, ttlMs: number): Promise<boolean> {
    const renewed = await this.#timed(
      this.#redis.eval(
        RENEW,
        2,
        vipLeaseKey(address),
        vipEpochKey(address),
        formatL2Lease(lease),
        String(ttlMs),
        String(lease.epoch),
      ),
    );
    return renewed === 1;
  }

  /** Deletes a lease still held with exactly this value (a successor's stays). */
  async release(address: string, lease: L2Lease): Promise<void> {
    await this.#timed(this.#redis.eval(RELEASE, 1, vipLeaseKey(address), formatL2Lease(lease)));
  }

  #timed<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${this.#timeoutMs}ms`)),
        this.#timeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
