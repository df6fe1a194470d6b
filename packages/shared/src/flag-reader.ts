/**
 * Reads a program's flags and environment once at start-up. Every flag has an
 * environment variable and maybe a default; a flag on the command line wins
 * over the variable, which wins over the default. Mistakes are collected, so
 * that `finish()` reports all of them at once, one line each, naming the flag
 * and its variable.
 */
import { parseArgs } from 'node:util';
import { InvalidConfigError } from './errors.ts';
import { parseDuration } from './health-check-defaults.ts';

export interface FlagSpec {
  /** The environment variable that sets the flag when it is not on the command line. */
  env: string;
  default?: string;
  help: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** host:port, with [v6]:port; undefined when malformed. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 0 || port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

/** The `--help` text for `specs`. */
export function flagUsage(program: string, specs: FlagSpecs): string {
  const lines = Object.entries(specs).map(
    ([flag, spec]) =>
      `  --${flag.padEnd(24)} $${spec.env.padEnd(26)} ${spec.help}${spec.default ? ` [${spec.default}]` : ''}`,
  );
  return `usage: ${program} [flags]\n\n${lines.join('\n')}`;
}

export class FlagReader {
  readonly #specs: FlagSpecs;
  readonly #values: Record<string, string | boolean | undefined>;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #errors: string[] = [];

  /** @throws InvalidConfigError for an unknown flag or a flag without its value. */
  constructor(
    specs: FlagSpecs,
    argv: readonly string[],
    env: Readonly<Record<string, string | undefined>>,
  ) {
    this.#specs = specs;
    this.#env = env;
    const options = Object.fromEntries(
      Object.keys(specs).map((f) => [f, { type: 'string' as const }]),
    );
    try {
      this.#values = parseArgs({
        args: [...argv],
        options,
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (err) {
      throw new InvalidConfigError((err as Error).message);
    }
  }

  /** `--flag ($VAR)`, as messages name a flag. */
  where(flag: string): string {
    return `--${flag} ($${this.#spec(flag).env})`;
  }

  /** Records a mistake about `flag`. */
  error(flag: string, message: string): void {
    this.#errors.push(`${this.where(flag)}: ${message}`);
  }

  /** Records a mistake about several flags together. */
  errorAbout(flags: readonly string[], message: string): void {
    this.#errors.push(`${flags.map((f) => `--${f}`).join('/')}: ${message}`);
  }

  get hasErrors(): boolean {
    return this.#errors.length > 0;
  }

  /** The raw value: command line, else environment (non-empty), else default. */
  string(flag: string): string | undefined {
    const spec = this.#spec(flag);
    const v = this.#values[flag];
    if (typeof v === 'string') return v;
    const fromEnv = this.#env[spec.env];
    return fromEnv !== undefined && fromEnv !== '' ? fromEnv : spec.default;
  }

  required(flag: string): string {
    const v = this.string(flag);
    if (v === undefined || v === '') {
      this.error(flag, 'required');
      return '';
    }
    return v;
  }

  /** A positive duration such as `500ms`, `5s`, `1m30s`, in ms. */
  duration(flag: string, options: { allowZero?: boolean } = {}): number {
    const text = this.string(flag) ?? '';
    try {
      const ms = parseDuration(text);
      if (ms < 0 || (ms === 0 && !options.allowZero)) throw new Error('must be positive');
      return ms;
    } catch (err) {
      this.error(
        flag,
        `"${text}" is not a ${options.allowZero ? '' : 'positive '}duration (${(err as Error).message})`,
      );
      return 1;
    }
  }

  integer(flag: string, min: number, max: number): number {
    const text = this.string(flag) ?? '';
    const n = Number(text);
    if (!/^-?\d+$/.test(text) || n < min || n > max) {
      this.error(flag, `"${text}" is not an integer from ${min} to ${max}`);
      return min;
    }
    return n;
  }

  boolean(flag: string): boolean {
    const text = (this.string(flag) ?? 'false').toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off', ''].includes(text)) return false;
    this.error(flag, `"${text}" is not true or false`);
    return false;
  }

  oneOf<T extends string>(flag: string, values: readonly T[]): T {
    const text = this.string(flag) ?? '';
    if (!(values as readonly string[]).includes(text)) {
      this.error(flag, `"${text}" is not one of ${values.join(', ')}`);
      return values[0] as T;
    }
    return text as T;
  }

  listen(flag: string): { host: string; port: number } {
    const text = this.string(flag) ?? '';
    const parsed = parseListen(text);
    if (!parsed) {
      this.error(flag, `"${text}" is not host:port`);
      return { host: '0.0.0.0', port: 0 };
    }
    return parsed;
  }

  /** A redis:// or rediss:// URL. */
  redisUrl(flag: string): string {
    const url = this.required(flag);
    const tcp = /^rediss?:\/\/[^\s/]+(\/\d*)?$/;
    // A Unix socket (unix:///run/redis.sock): ioredis takes the path from the URL.
    const unix = /^unix:\/\/\/[^\s?#]+$/;
    if (url !== '' && !tcp.test(url) && !unix.test(url)) {
      this.error(flag, `"${url}" is not redis://[:password@]host:port[/db] or unix:///path`);
    }
    return url;
  }

  /** @throws InvalidConfigError listing every recorded mistake, one per line. */
  finish(): void {
    if (this.#errors.length > 0) throw new InvalidConfigError(this.#errors.join('\n'));
  }

  #spec(flag: string): FlagSpec {
    const spec = this.#specs[flag];
    if (!spec) throw new Error(`no flag --${flag} is declared`);
    return spec;
  }
}
