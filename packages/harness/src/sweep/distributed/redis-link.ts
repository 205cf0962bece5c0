/**
 * The connection to Redis shared by the sweep coordinator and the workers: parsing `--redis URL`,
 * the ioredis options BullMQ gets, and a watcher that turns connection trouble into clear lines.
 *
 * Reconnection uses capped exponential backoff, delay(n) = min(base * 2^(n-1), cap) for the n-th
 * retry. Commands issued while Redis is away wait in ioredis' offline queue
 * (maxRetriesPerRequest = null) instead of failing, so an outage delays a sweep but loses nothing:
 * the trials live in Redis, the results in the sweep directory. The watcher owns one extra
 * connection and reports "unreachable" once per outage (then every `repeatMs`), "reachable again"
 * when it ends, and gives up (RedisUnavailableError) after `giveUpAfterMs` of continuous outage.
 */
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import { OptionError } from 'decoupled';
import { Redis, type RedisOptions } from 'ioredis';

/** Where Redis is, parsed from `redis://[user[:password]@]host[:port][/db]` (or `rediss://`). */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL without its password, for messages. */
  display: string;
}

/** Parses a Redis URL; throws an OptionError naming `option` when it is not one. */
export function parseRedisUrl(url: string, option = '--redis'): RedisTarget {
  const allowed =
    'a URL like redis://host:6379 (or rediss://, optionally with user:password@ and /db)';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OptionError(option, url, allowed);
  }
  if ((parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || !parsed.hostname) {
    throw new OptionError(option, url, allowed);
  }
  const port = parsed.port ? Number(parsed.port) : 6379;
  const dbText = parsed.pathname.replace(/^\//, '');
  const db = dbText ? Number(dbText) : 0;
  if (!Number.isInteger(db) || db < 0) throw new OptionError(option, url, allowed);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const safe = new URL(url);
  if (safe.password) safe.password = '***';
  return {
    host,
    port,
    db,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    tls: parsed.protocol === 'rediss:',
    display: safe.toString().replace(/\/$/, ''),
  };
}

export interface BackoffOptions {
  /** First retry delay in ms (default 500). */
  baseMs?: number;
  /** Longest delay in ms (default 10 000). */
  capMs?: number;
}

/** Delay before the n-th reconnection attempt (n >= 1): min(base * 2^(n-1), cap). */
export function backoffDelay(
  attempt: number,
  { baseMs = 500, capMs = 10_000 }: BackoffOptions = {},
) {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), capMs);
}

/** ioredis options for BullMQ: wait through outages (offline queue, no per-command retry cap). */
export function connectionOptions(
  target: RedisTarget,
  backoff: BackoffOptions = {},
): RedisOptions & BullRedisOptions {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    username: target.username,
    password: target.password,
    ...(target.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times: number) => backoffDelay(times, backoff),
  };
}

/** Redis stayed unreachable longer than the caller accepts. */
export class RedisUnavailableError extends Error {
  constructor(target: RedisTarget, waitedMs: number, cause: string) {
    super(
      `Redis at ${target.display} has been unreachable for ${Math.round(waitedMs / 1000)} s ` +
        `(${cause}); giving up. Nothing was lost: queued trials stay in Redis and recorded ` +
        `results in the sweep directory; run the same command again once Redis is up.`,
    );
    this.name = 'RedisUnavailableError';
  }
}

export interface RedisWatcherOptions {
  /** Where lines go (default: stderr). */
  log?: (line: string) => void;
  /** Who is talking, e.g. 'sweep' or 'worker', as the prefix of each line. */
  role?: string;
  /** Give up after this much continuous outage (default: never). */
  giveUpAfterMs?: number;
  /** Repeat the "still unreachable" line at most this often (default 10 s). */
  repeatMs?: number;
  backoff?: BackoffOptions;
}

/** Watches reachability of one Redis through a dedicated connection and reports it in words. */
export class RedisWatcher {
  readonly target: RedisTarget;
  private readonly client: Redis;
  private readonly log: (line: string) => void;
  private readonly prefix: string;
  private readonly giveUpAfterMs: number;
  private readonly repeatMs: number;
  private readonly backoff: BackoffOptions;
  private downSince: number | undefined;
  private lastReport = 0;
  private lastCause = 'no answer yet';
  private everReady = false;
  private failure: RedisUnavailableError | undefined;
  private readonly waiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  private giveUpListeners = new Set<(e: Error) => void>();

  constructor(target: RedisTarget, options: RedisWatcherOptions = {}) {
    this.target = target;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.prefix = options.role ? `${options.role}: ` : '';
    this.giveUpAfterMs = options.giveUpAfterMs ?? Number.POSITIVE_INFINITY;
    this.repeatMs = options.repeatMs ?? 10_000;
    this.backoff = options.backoff ?? {};
    this.client = new Redis({
      ...connectionOptions(target, this.backoff),
      // Report every retry, then let ioredis wait the backoff.
      retryStrategy: (times: number) => this.onRetry(times),
      lazyConnect: true,
    });
    this.client.on('error', (error: Error & { code?: string }) => {
      this.lastCause = error.code ?? error.message;
    });
    this.client.on('ready', () => this.onReady());
    this.client.connect().catch(() => {
      // Failures arrive through 'error' and retryStrategy.
    });
  }

  /** The ioredis options every BullMQ object of this process should use. */
  connection(): RedisOptions & BullRedisOptions {
    return connectionOptions(this.target, this.backoff);
  }

  /** True while Redis answers. */
  get reachable(): boolean {
    return this.client.status === 'ready';
  }

  /** Resolves once Redis answers; rejects with RedisUnavailableError or when `signal` aborts. */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.reachable) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        this.waiters.delete(waiter);
        reject(signal?.reason ?? new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Rejects with RedisUnavailableError when the watcher gives up (never resolves). */
  untilGiveUp(): Promise<never> {
    return new Promise((_, reject) => {
      if (this.failure) reject(this.failure);
      else this.giveUpListeners.add(reject);
    });
  }

  /** The error that made the watcher give up, if it did. */
  get gaveUp(): RedisUnavailableError | undefined {
    return this.failure;
  }

  async close(): Promise<void> {
    this.giveUpListeners.clear();
    this.client.disconnect();
  }

  private onRetry(times: number): number | null {
    const now = Date.now();
    const delay = backoffDelay(times, this.backoff);
    if (this.downSince === undefined) {
      this.downSince = now;
      this.lastReport = now;
      const what = this.everReady ? 'went away' : 'is unreachable';
      this.log(
        `${this.prefix}Redis at ${this.target.display} ${what} (${this.lastCause}); ` +
          `retrying with backoff (next attempt in ${(delay / 1000).toFixed(1)} s). ` +
          'Nothing is lost while it is away.',
      );
    } else if (now - this.lastReport >= this.repeatMs) {
      this.lastReport = now;
      this.log(
        `${this.prefix}Redis at ${this.target.display} still unreachable after ` +
          `${Math.round((now - this.downSince) / 1000)} s (${this.lastCause}); retrying ` +
          `(next attempt in ${(delay / 1000).toFixed(1)} s)`,
      );
    }
    if (now - this.downSince >= this.giveUpAfterMs) {
      this.failure = new RedisUnavailableError(this.target, now - this.downSince, this.lastCause);
      for (const w of this.waiters) w.reject(this.failure);
      this.waiters.clear();
      for (const listener of this.giveUpListeners) listener(this.failure);
      this.giveUpListeners.clear();
      return null;
    }
    return delay;
  }

  private onReady(): void {
    if (this.downSince !== undefined) {
      const secs = ((Date.now() - this.downSince) / 1000).toFixed(1);
      this.log(
        `${this.prefix}Redis at ${this.target.display} is reachable again (after ${secs} s)`,
      );
    }
    this.downSince = undefined;
    this.everReady = true;
    // Until an error says more, the next outage is a lost connection.
    this.lastCause = 'connection lost';
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
  }
}
