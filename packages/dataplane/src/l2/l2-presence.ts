/**
 * Which nodes run an L2 speaker now: each speaker keeps `l2SpeakerKey(node)` (`SET … PX`, value
 * a random token of its process) and lists the others' with their tokens. This rather than the
 * dataplanes' general heartbeat because only a node that runs with `--l2` can take an address
 * handed to it, and because a new token tells a restarted process from one that has been taking
 * part for a while (the hand-off waits for that).
 */
import { l2SpeakerKey, l2SpeakerPattern, nodeOfL2SpeakerKey } from '@pier/shared';
import type { Redis } from 'ioredis';

/** Deletes the key only while it still holds this process's token. */
const LEAVE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** Keys per SCAN step. */
const SCAN_COUNT = 1000;

/** This node's presence key and the list of live speakers. */
export class L2Presence {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #token: string;
  readonly #ttlMs: number;

  constructor(options: { redis: Redis; node: string; token: string; ttlMs: number }) {
    this.#redis = options.redis;
    this.#key = l2SpeakerKey(options.node);
    this.#token = options.token;
    this.#ttlMs = options.ttlMs;
  }

  /** Writes this node's key again. */
  async beat(): Promise<void> {
    await this.#redis.set(this.#key, this.#token, 'PX', this.#ttlMs);
  }

  /** The live speakers: node name → process token. */
  async list(): Promise<Map<string, string>> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await this.#redis.scan(
        cursor,
        'MATCH',
        l2SpeakerPattern(),
        'COUNT',
        SCAN_COUNT,
      );
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const speakers = new Map<string, string>();
    if (keys.length === 0) return speakers;
    const tokens = await this.#redis.mget(keys);
    for (const [i, key] of keys.entries()) {
      const node = nodeOfL2SpeakerKey(key);
      const token = tokens[i];
      if (node !== undefined && typeof token === 'string') speakers.set(node, token);
    }
    return speakers;
  }

  /** Deletes this node's key (unless a restarted process already wrote its own). */
  async leave(): Promise<void> {
    await this.#redis.eval(LEAVE, 1, this.#key, this.#token);
  }
}
