// The HTTP face of a fitted model (`betanmf serve`): transforms go through a request batcher,
// so concurrent clients share native calls. Node's own http: no framework is needed for four
// routes, and the server adds no dependency to the package.
//
//   POST /v1/transform           {"rows": [[…], …]} or an application/x-npy body → H in the same form
//   POST /v1/inverse-transform   H likewise → H·Wᵀ
//   GET  /healthz                {"status": "ok"} (503 "draining" while shutting down)
//   GET  /metrics                Prometheus text format
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AbortError, type BetaNMF } from './betanmf';
import { BatcherClosedError, createBatcher, QueueFullError, type Batcher, type BatcherOptions } from './batcher';
import { describe, rangeError, typeError } from './errors';
import { hostAs, matrix, type Matrix } from './matrix';
import { formatNpy, parseNpy } from './npy-buffer';

export interface ServeOptions extends Omit<BatcherOptions, 'onBatch'> {
  /** Interface to listen on. Default '127.0.0.1' (loopback only). */
  host?: string;
  /** Port; 0 (the default) takes a free one (see url). */
  port?: number;
  /** Largest request body in bytes; larger ones get 413. Default 16 MiB. */
  maxBodyBytes?: number;
  /** After close() starts, connections still open this long are cut. Default 10 s. */
  drainTimeoutMs?: number;
}

export interface ModelServer {
  /** http://host:port of the listening server. */
  readonly url: string;
  readonly server: http.Server;
  readonly batcher: Batcher;
  /** The /metrics text now. */
  metrics(): string;
  /** Refuses new requests, answers those in flight, then closes; resolves when all connections are closed. */
  close(): Promise<void>;
}

const NPY = 'application/x-npy';

/** A Prometheus histogram with fixed upper bounds (cumulative buckets, as the text format wants). */
class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(private readonly bounds: number[]) {
    this.counts = bounds.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]) this.counts[i]++;
  }
  lines(name: string, labels = ''): string[] {
    const l = (extra: string) => `{${[labels, extra].filter(Boolean).join(',')}}`;
    return [
      ...this.bounds.map((b, i) => `${name}_bucket${l(`le="${b}"`)} ${this.counts[i]}`),
      `${name}_bucket${l('le="+Inf"')} ${this.count}`,
      `${name}_sum${labels ? `{${labels}}` : ''} ${this.sum}`,
      `${name}_count${labels ? `{${labels}}` : ''} ${this.count}`,
    ];
  }
}

const LATENCY_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const ROUTES = ['/v1/transform', '/v1/inverse-transform', '/healthz', '/metrics'] as const;
type Route = (typeof ROUTES)[number] | 'other';

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

function checkPort(v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number') throw typeError('port', 'an integer in [0, 65535]', v);
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw rangeError('port', 'an integer in [0, 65535]', describe(v));
  return v;
}

/** Reads a body up to `limit` bytes; a longer one is a 413 (the rest is not read). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new HttpError(413, `request body of ${declared} bytes; the limit is ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        reject(new HttpError(413, `request body over the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** The matrix a body holds: {"rows": [[…]]} or .npy; `form` says which, for the answer. */
function parseMatrix(name: string, type: string, body: Buffer): { m: Matrix; form: 'json' | 'npy' } {
  if (type === NPY) return { m: parseNpy(name, body), form: 'npy' };
  if (type !== 'application/json') {
    throw new HttpError(415, `Content-Type: expected application/json or ${NPY}, received ${type || 'none'}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `the body is not JSON: ${(e as Error).message}`);
  }
  const rows = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { rows?: unknown }).rows : undefined;
  if (!Array.isArray(rows) || rows.length === 0 || !Array.isArray(rows[0])) {
    throw typeError('rows', `a non-empty array of rows (arrays of numbers): {"rows": [[…], …]} for ${name}`, rows);
  }
  return { m: matrix(rows as number[][]), form: 'json' };
}

function send(res: http.ServerResponse, status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Serves `model` over HTTP; resolves once listening. */
export async function serveModel(model: BetaNMF, options: ServeOptions = {}): Promise<ModelServer> {
  if (typeof options !== 'object' || options === null) throw typeError('options', 'an object', options);
  const { host = '127.0.0.1', port: portIn, maxBodyBytes = 16 * 2 ** 20, drainTimeoutMs = 10_000, ...batcherOptions } = options;
  if (typeof host !== 'string') throw typeError('host', 'a string', host);
  const port = checkPort(portIn);
  if (typeof maxBodyBytes !== 'number' || !Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw rangeError('maxBodyBytes', 'an integer ≥ 1', describe(maxBodyBytes));
  }

  const requests = new Map<string, number>(); // `${route} ${status}` → count
  const latency = new Map<Route, Histogram>();
  const batchRows = new Histogram([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
  const batchSeconds = new Histogram(LATENCY_BOUNDS);
  let inFlight = 0, draining = false;
  const batcher = createBatcher(model, {
    ...batcherOptions,
    onBatch: ({ rows, seconds }) => {
      batchRows.observe(rows);
      batchSeconds.observe(seconds);
    },
  });

  const transform = async (X: Matrix, signal: AbortSignal) => batcher.transform(X, { signal });
  const inverse = async (H: Matrix) => model.inverseTransform(H);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, route: Route): Promise<number> => {
    const method = req.method ?? 'GET';
    const post = route === '/v1/transform' || route === '/v1/inverse-transform';
    if (route === 'other') throw new HttpError(404, `no route ${method} ${req.url}; routes: POST /v1/transform, POST /v1/inverse-transform, GET /healthz, GET /metrics`);
    if (method !== (post ? 'POST' : 'GET') && !(method === 'HEAD' && !post)) {
      throw new HttpError(405, `${route} takes ${post ? 'POST' : 'GET'}, received ${method}`, { Allow: post ? 'POST' : 'GET, HEAD' });
    }
    if (route === '/healthz') {
      const status = draining ? 503 : 200;
      send(res, status, JSON.stringify({ status: draining ? 'draining' : 'ok' }), 'application/json');
      return status;
    }
    if (route === '/metrics') {
      send(res, 200, metrics(), 'text/plain; version=0.0.4; charset=utf-8');
      return 200;
    }
    if (draining) throw new HttpError(503, 'the server is shutting down', { 'Retry-After': '1' });
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const body = await readBody(req, maxBodyBytes);
    const isTransform = route === '/v1/transform';
    const { m, form } = parseMatrix(isTransform ? 'X' : 'H', type, body);
    // A client that goes away takes its request out of the queue.
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const out = isTransform ? await transform(m, gone.signal) : await inverse(m);
    if (form === 'npy') send(res, 200, formatNpy(hostAs(out, m.dtype)), NPY);
    else send(res, 200, JSON.stringify({ rows: out.toArray() }), 'application/json');
    return 200;
  };

  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const route: Route = (ROUTES as readonly string[]).includes(path) ? (path as Route) : 'other';
    inFlight++;
    if (draining) res.setHeader('Connection', 'close');
    handle(req, res, route).then(
      (status) => done(status),
      (err: unknown) => {
        if (err instanceof AbortError && res.destroyed) return done(499); // the client left
        const e = err as Error;
        const status = err instanceof HttpError ? err.status
          : err instanceof TypeError || err instanceof RangeError ? 400
            : err instanceof QueueFullError || err instanceof BatcherClosedError ? 503 : 500;
        const headers = err instanceof HttpError ? err.headers : status === 503 ? { 'Retry-After': '1' } : {};
        // After a 413 the rest of the body is not read: the connection cannot carry another request.
        if (status === 413) res.setHeader('Connection', 'close');
        if (!res.headersSent && !res.destroyed) send(res, status, JSON.stringify({ error: e?.message ?? String(err) }), 'application/json', headers);
        done(status);
      },
    );
    function done(status: number) {
      inFlight--;
      requests.set(`${route} ${status}`, (requests.get(`${route} ${status}`) ?? 0) + 1);
      if (!latency.has(route)) latency.set(route, new Histogram(LATENCY_BOUNDS));
      latency.get(route)!.observe((performance.now() - t0) / 1000);
    }
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeouts

  function metrics(): string {
    const s = batcher.stats();
    const out = [
      '# HELP betanmf_http_requests_total HTTP requests answered, by route and status code.',
      '# TYPE betanmf_http_requests_total counter',
      ...[...requests].map(([k, n]) => {
        const [route, status] = k.split(' ');
        return `betanmf_http_requests_total{route="${route}",code="${status}"} ${n}`;
      }),
      '# HELP betanmf_http_errors_total HTTP requests answered with a 4xx or 5xx status.',
      '# TYPE betanmf_http_errors_total counter',
      `betanmf_http_errors_total ${[...requests].filter(([k]) => Number(k.split(' ')[1]) >= 400).reduce((a, [, n]) => a + n, 0)}`,
      '# HELP betanmf_http_request_duration_seconds Time from a request\'s arrival to its answer.',
      '# TYPE betanmf_http_request_duration_seconds histogram',
      ...[...latency].flatMap(([route, h]) => h.lines('betanmf_http_request_duration_seconds', `route="${route}"`)),
      '# HELP betanmf_http_requests_in_flight HTTP requests being answered now.',
      '# TYPE betanmf_http_requests_in_flight gauge',
      `betanmf_http_requests_in_flight ${inFlight}`,
      '# HELP betanmf_batch_rows Rows per native transform call.',
      '# TYPE betanmf_batch_rows histogram',
      ...batchRows.lines('betanmf_batch_rows'),
      '# HELP betanmf_batch_duration_seconds Time of one native transform call.',
      '# TYPE betanmf_batch_duration_seconds histogram',
      ...batchSeconds.lines('betanmf_batch_duration_seconds'),
      '# HELP betanmf_queue_requests Transform requests waiting for a batch.',
      '# TYPE betanmf_queue_requests gauge',
      `betanmf_queue_requests ${s.queued}`,
      '# HELP betanmf_queue_rows Rows of the transform requests waiting for a batch.',
      '# TYPE betanmf_queue_rows gauge',
      `betanmf_queue_rows ${s.queuedRows}`,
      '# HELP betanmf_transform_requests_total Transform requests by outcome.',
      '# TYPE betanmf_transform_requests_total counter',
      ...(['completed', 'refused', 'queueFull', 'aborted', 'cancelled', 'failed'] as const)
        .map((k) => `betanmf_transform_requests_total{outcome="${k}"} ${s[k]}`),
    ];
    return out.join('\n') + '\n';
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    batcher,
    metrics,
    close() {
      closing ??= (async () => {
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await batcher.close(); // the queued transforms run; their answers go out with Connection: close
        const cut = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        try {
          await closed;
        } finally {
          clearTimeout(cut);
          clearInterval(idle);
        }
      })();
      return closing;
    },
  };
}
