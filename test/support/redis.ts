// The Redis the queue tests (and the README's queue example) run against: only ever one on this
// machine — REDIS_URL when it names localhost, else 127.0.0.1:6379, else a redis-server of our
// own on a free port when the binary exists.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { checkReachable } from '../../lib/queue';

const LOCAL_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/** True when a redis:// URL names this machine. */
export function isLocalRedis(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'redis:' || u.protocol === 'rediss:') && LOCAL_HOSTS.includes(u.hostname);
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface LocalRedis {
  url: string;
  /** Stops the server if we started it. */
  stop(): void;
}

/** A reachable Redis on this machine, or undefined when there is none and none can be started. */
export async function findRedis(): Promise<LocalRedis | undefined> {
  const env = process.env.REDIS_URL;
  if (env && !isLocalRedis(env)) throw new Error(`REDIS_URL=${env}: the tests only use a Redis on this machine (127.0.0.1 / localhost)`);
  const url = env || 'redis://127.0.0.1:6379';
  try {
    await checkReachable(url, 1500);
    return { url, stop: () => {} };
  } catch { /* try our own */ }
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  const port = await freePort();
  const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const own = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      await checkReachable(own, 500);
      return { url: own, stop: () => server.kill() };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  server.kill();
  return undefined;
}

/** Whether a run without Redis must fail rather than skip (CI runs the queue tests). */
export const redisRequired = () => process.env.CI === 'true' || process.env.BETANMF_REQUIRE_REDIS === '1';
