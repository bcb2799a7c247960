// `betanmf serve MODEL_DIR`: a saved model behind HTTP (lib/http-server.ts), with batching.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { BetaNMF, setNumThreads } from '../index';
import { encodeMatrix, type SavedModel } from '../persist';
import { readNpy } from '../io';
import { serveModel } from '../http-server';
import { int, num } from './args';
import { UsageError } from './io';
import { takeSignals } from './signals';

interface ServeFlags {
  host: string;
  port: number;
  maxBatch: number;
  maxDelayMs: number;
  maxQueue: number;
  maxIter?: number;
  maxBodyBytes: number;
  threads?: number;
}

/**
 * The model in `dir`: a folder written by model.save() (model.json), or by `betanmf fit --out`
 * (W.npy and history.json, which records the fit's options and seed).
 */
async function loadModel(dir: string): Promise<BetaNMF> {
  if (fs.existsSync(path.join(dir, 'model.json')) || !fs.existsSync(path.join(dir, 'history.json'))) return BetaNMF.load(dir);
  const fitted = JSON.parse(await fs.promises.readFile(path.join(dir, 'history.json'), 'utf8')) as { options: SavedModel['options']; seed: number; iterations: number };
  const W = await readNpy(path.join(dir, 'W.npy'));
  return BetaNMF.fromJSON({ format: 'betanmf-model', version: 2, options: fitted.options, seed: fitted.seed, nIter: fitted.iterations, history: [],
    W: encodeMatrix(W), H: null });
}

/**
 * `serve` takes SIGINT / SIGTERM over: the first one drains (no new requests, the queued and
 * in-flight ones answered) and exits 0; a second exits at once.
 */
export function serveCommand(cli: Command): void {
  cli
    .command('serve')
    .description('answer transforms of a saved model over HTTP (POST /v1/transform, /v1/inverse-transform; GET /healthz, /metrics)')
    .argument('<model-dir>', 'a folder written by `betanmf fit --out` or model.save()')
    .option('--host <HOST>', 'interface to listen on', '127.0.0.1')
    .option('--port <PORT>', 'port (0: a free one, printed at startup)', int('--port', 0), 8080)
    .option('--max-batch <ROWS>', 'most rows in one native transform call', int('--max-batch', 1), 64)
    .option('--max-delay-ms <MS>', 'longest an idle server waits for batch-mates', num('--max-delay-ms', 0, 60000), 1)
    .option('--max-queue <N>', 'most transform requests waiting; more get 503', int('--max-queue', 1), 1024)
    .option('--max-iter <N>', "MU iterations per request (default: the model's maxIter)", int('--max-iter', 0))
    .option('--max-body-bytes <BYTES>', 'largest request body; larger ones get 413', int('--max-body-bytes', 1), 16 * 2 ** 20)
    .option('--threads <N>', 'threads of the native kernels (default: BETANMF_NUM_THREADS, else the cores)', int('--threads', 1))
    .action(async (dir: string, f: ServeFlags) => {
      if (f.port > 65535) throw new UsageError(`--port: expected an integer in [0, 65535], received ${f.port}`);
      const model = await loadModel(dir);
      if (!model.W) throw new UsageError(`${dir}: the saved model has no W (it was never fitted)`);
      if (f.threads !== undefined) setNumThreads(f.threads);
      const s = await serveModel(model, {
        host: f.host, port: f.port, maxBatch: f.maxBatch, maxDelayMs: f.maxDelayMs, maxQueue: f.maxQueue, maxIter: f.maxIter,
        maxBodyBytes: f.maxBodyBytes,
      });
      const W = model.W;
      process.stdout.write(`betanmf serve: ${dir} (F=${W.rows}, K=${W.cols}, β=${model.options.beta}) listening on ${s.url}\n`);
      await new Promise<void>((resolve, reject) => {
        let stopping = false;
        takeSignals((sig) => {
          if (stopping) process.exit(sig === 'SIGINT' ? 130 : 143);
          stopping = true;
          process.stderr.write(`betanmf serve: ${sig}: answering the requests in flight, then exiting (${sig} again to exit now)\n`);
          s.close().then(resolve, reject);
        });
      });
      process.stderr.write('betanmf serve: stopped\n');
    });
}
