// Redis connections: one spelling of "where is Redis" (a URL or host/port options) for BullMQ
// and for the epoch exchange, and a fast, one-line failure when it cannot be reached.
import * as net from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';

/** A redis:// URL, or ioredis-style options. */
export type Connection = string | { host?: string; port?: number; username?: string; password?: string; db?: number };

export const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

/** The URL given, else REDIS_URL, else redis://127.0.0.1:6379. */
export function defaultRedisUrl(url?: string): string {
  return url || process.env.REDIS_URL || DEFAULT_REDIS;
}

/** Options for ioredis / BullMQ from a Connection (BullMQ needs maxRetriesPerRequest: null). */
export function redisOptions(c: Connection): RedisOptions {
  if (typeof c === 'string') {
    let u: URL;
    try {
      u = new URL(c);
    } catch {
      throw new RangeError(`redis: expected a URL such as redis://host:6379, received ${JSON.stringify(c)}`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RangeError(`redis: expected a redis:// URL, received ${JSON.stringify(c)}`);
    const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
    return {
      host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : 6379,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      db: Number.isInteger(db) ? db : undefined,
      tls: u.protocol === 'rediss:' ? {} : undefined,
      maxRetriesPerRequest: null,
    };
  }
  if (typeof c !== 'object' || c === null) throw new TypeError(`connection: expected a redis:// URL or { host, port }, received ${typeof c}`);
  return { ...c, maxRetriesPerRequest: null };
}

/** How a Connection reads in messages. */
export function describeConnection(c: Connection): string {
  if (typeof c === 'string') return c;
  return `redis://${c.host ?? '127.0.0.1'}:${c.port ?? 6379}`;
}

/**
 * A client for our own keys (the epoch exchange, cancel signals). Its connection errors go to
 * `onError` (default: nowhere; the calls that need Redis fail with their own error): without a
 * listener, ioredis prints a multi-line "[ioredis] Unhandled error event" trace at every retry.
 */
export function redisClient(c: Connection, onError: (err: Error) => void = () => {}): Redis {
  return new Redis(redisOptions(c)).on('error', onError);
}

/**
 * A reporter of connection errors that says each as one line, once until a different one comes
 * (a lost Redis is retried every few hundred ms; one line a minute says it, not hundreds).
 */
export function oneLineErrors(say: (line: string) => void): (err: Error) => void {
  let last: string | undefined;
  let at = 0;
  return (err) => {
    const e = err as NodeJS.ErrnoException;
    const line = `Redis: ${e.code ?? String(e.message ?? err).split('\n')[0]}${e.code === 'ECONNREFUSED' ? ' (not reachable; retrying)' : ''}`;
    if (line === last && Date.now() - at < 60000) return;
    say(line);
    [last, at] = [line, Date.now()];
  };
}

/** Resolves when Redis answers PING; otherwise rejects within ~timeoutMs with one line saying so. */
export async function checkReachable(c: Connection, timeoutMs = 3000): Promise<void> {
  // A plain TCP connect first: a refused or silent port fails at once, without ioredis's teardown delay.
  const o = redisOptions(c);
  await new Promise<void>((resolve, reject) => {
    const sock = net.connect({ host: o.host ?? '127.0.0.1', port: o.port ?? 6379 });
    const fail = (why: string) => {
      sock.destroy();
      reject(new Error(`cannot reach Redis at ${describeConnection(c)} (${why})`));
    };
    sock.setTimeout(timeoutMs, () => fail('timed out'));
    sock.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    sock.once('connect', () => {
      sock.destroy();
      resolve();
    });
  });
  const probe = new Redis({ ...redisOptions(c), lazyConnect: true, retryStrategy: () => null, connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0, enableOfflineQueue: false });
  let first: NodeJS.ErrnoException | undefined;
  probe.on('error', (err: NodeJS.ErrnoException) => { first ??= err; }); // reported below
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.connect().then(() => probe.ping()),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), timeoutMs); }),
    ]);
  } catch (err) {
    const e = first ?? (err as NodeJS.ErrnoException);
    throw new Error(`cannot reach Redis at ${describeConnection(c)} (${e.code ?? e.message})`);
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}
