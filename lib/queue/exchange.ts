// The epoch exchange of a sharded fit, in Redis: binary values under one key prefix per fit,
// and a pub/sub channel that wakes whoever waits for them (with a slow poll as a safety net).
import type { Redis } from 'ioredis';
import { AbortError } from '../betanmf';
import { redisClient, type Connection } from './connection';

/** How long a fit's keys live after their last write (so an abandoned fit does not stay forever). */
const TTL_S = 7 * 24 * 3600;
const POLL_MS = 250;

export function fitPrefix(queue: string, fitId: string): string {
  return `betanmf:${queue}:fit:${fitId}:`;
}

export class Exchange {
  readonly prefix: string;
  readonly redis: Redis;
  private sub: Redis | undefined;
  private seq = 0;
  private wake: (() => void) | undefined;

  constructor(connection: Connection, queue: string, fitId: string) {
    this.prefix = fitPrefix(queue, fitId);
    this.redis = redisClient(connection);
    this.sub = redisClient(connection);
  }

  async start(): Promise<this> {
    this.sub!.on('message', () => {
      this.seq++;
      this.wake?.();
    });
    await this.sub!.subscribe(this.prefix + 'events');
    return this;
  }

  key(name: string): string {
    return this.prefix + name;
  }

  /** Sets a string or binary value (idempotent: retried shards write the same bytes) and wakes waiters. */
  async set(name: string, value: Buffer | string): Promise<void> {
    await this.redis.multi().set(this.key(name), value, 'EX', TTL_S).publish(this.key('events'), name).exec();
  }

  /** Sets field `field` of hash `name` and wakes waiters. */
  async hset(name: string, field: string | number, value: Buffer | string): Promise<void> {
    await this.redis.multi().hset(this.key(name), String(field), value).expire(this.key(name), TTL_S)
      .publish(this.key('events'), name).exec();
  }

  getBuffer(name: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key(name));
  }

  get(name: string): Promise<string | null> {
    return this.redis.get(this.key(name));
  }

  /** All S fields 0..S−1 of a hash once every one is there (binary), else null. */
  async allFields(name: string, S: number): Promise<Buffer[] | null> {
    const h = await this.redis.hgetallBuffer(this.key(name));
    const out: Buffer[] = [];
    for (let s = 0; s < S; s++) {
      const v = h[String(s)];
      if (v === undefined) return null;
      out.push(v);
    }
    return out;
  }

  /** Marks the fit as failed or cancelled: everyone waiting stops with this reason. */
  async abort(reason: string): Promise<void> {
    await this.redis.multi().set(this.key('abort'), reason, 'EX', TTL_S, 'NX').publish(this.key('events'), 'abort').exec();
  }

  /**
   * Resolves with check()'s first non-null value; re-checks on every notification of this fit
   * (and every POLL_MS). Rejects with the fit's abort reason, or an AbortError when `signal` fires.
   */
  async waitFor<T>(check: () => Promise<T | null>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      const seq = this.seq;
      const [value, aborted] = await Promise.all([check(), this.get('abort')]);
      if (value !== null) return value;
      if (aborted !== null) throw new Error(aborted);
      if (signal?.aborted) throw new AbortError('the shard was aborted', { cause: signal.reason });
      if (this.seq !== seq) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, POLL_MS);
        const onAbort = () => done();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.wake = done;
        function done() {
          clearTimeout(t);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      });
      this.wake = undefined;
    }
  }

  /** Deletes every key of this fit. */
  async clear(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', this.prefix + '*', 'COUNT', 1000);
      if (keys.length) await this.redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    const sub = this.sub;
    this.sub = undefined;
    sub?.disconnect();
    this.redis.disconnect();
  }
}

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(a: Float32Array | Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A typed array of `dtype` holding a copy of b's bytes. */
export function arrayOf(b: Buffer, float32: boolean): Float32Array | Float64Array {
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return float32 ? new Float32Array(ab) : new Float64Array(ab);
}
