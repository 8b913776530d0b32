import type { Command } from 'commander';
import { GraftError } from '../errors.js';
import { num } from './parse.js';
import { createServer } from '../serve/server.js';
import { SERVE_DEFAULTS, type ServeModel, type ServeOptions } from '../serve/options.js';

/** `dir` or `name=dir`. */
export function parseModelArg(arg: string): ServeModel {
  const i = arg.indexOf('=');
  if (i < 0) return { dir: arg };
  const name = arg.slice(0, i);
  const dir = arg.slice(i + 1);
  if (!name || !dir) throw new GraftError('E_BAD_OPTIONS', `Expected a model directory or name=dir. Received: ${JSON.stringify(arg)}.`);
  return { name, dir };
}

/** `--rate-limit 100/60000`: at most 100 requests per client per 60,000 ms. */
function parseRate(v: string): { max: number; windowMs: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m) throw new GraftError('E_BAD_OPTIONS', `--rate-limit takes <requests>/<milliseconds>, e.g. 100/60000. Received: ${JSON.stringify(v)}.`);
  return { max: Number(m[1]), windowMs: Number(m[2]) };
}

interface Flags {
  host: string;
  port: number;
  maxBatchSize: number;
  maxBatchDelay: number;
  maxQueue: number;
  queueTimeout: number;
  bodyLimit: number;
  maxPixels: number;
  maxImages: number;
  requestTimeout: number;
  token?: string;
  cors?: string | boolean;
  rateLimit?: { max: number; windowMs: number };
  inference: 'worker' | 'main';
  threads?: number;
  modelRoot?: string;
  watch: number;
  shutdownTimeout: number;
  logLevel: ServeOptions['logLevel'];
}

export function registerServe(program: Command): void {
  const d = SERVE_DEFAULTS;
  program
    .command('serve <models...>')
    .description('serve model directories over HTTP (Open Inference Protocol v2, :classify, /predictions) until SIGTERM/SIGINT')
    .option('--host <addr>', 'interface to bind (0.0.0.0 exposes it to the network)', d.host)
    .option('--port <n>', 'port (0: any free port)', num, d.port)
    .option('--max-batch-size <n>', 'most images per onnxruntime run', num, d.maxBatchSize)
    .option('--max-batch-delay <ms>', 'how long an idle model waits for more images', num, d.maxBatchDelayMs)
    .option('--max-queue <n>', 'images per model allowed to wait; beyond: 503 + Retry-After', num, d.maxQueue)
    .option('--queue-timeout <ms>', 'longest wait in the queue before a 503', num, d.queueTimeoutMs)
    .option('--body-limit <bytes>', 'largest request body (413 beyond)', num, d.bodyLimit)
    .option('--max-pixels <n>', 'largest decoded image, width × height (413 beyond)', num, d.maxPixels)
    .option('--max-images <n>', 'most images per request (413 beyond)', num, d.maxImages)
    .option('--request-timeout <ms>', 'time a client has to send its request (408 after)', num, d.requestTimeoutMs)
    .option('--token <token>', 'require Authorization: Bearer <token> (default: $GRAFT_SERVE_TOKEN if set)')
    .option('--cors [origins]', 'allow cross-origin requests: from any origin, or a comma-separated list')
    .option('--rate-limit <n/ms>', 'per-client limit, e.g. 100/60000 (429 beyond)', parseRate)
    .option('--inference <where>', 'worker (a thread per model) or main', d.inference)
    .option('--threads <n>', 'onnxruntime intra-op threads per model (default: all cores)', num)
    .option('--model-root <dir>', 'folder the load API may load new model directories from')
    .option('--watch <ms>', 'poll model directories and reload changed ones (0: off)', num, d.watchMs)
    .option('--shutdown-timeout <ms>', 'how long SIGTERM waits for in-flight requests', num, d.shutdownTimeoutMs)
    .option('--log-level <level>', 'JSON log level: fatal, error, warn, info, debug, trace, silent', d.logLevel)
    .action(async (args: string[], f: Flags) => {
      const server = await createServer({
        models: args.map(parseModelArg),
        host: f.host,
        port: f.port,
        maxBatchSize: f.maxBatchSize,
        maxBatchDelayMs: f.maxBatchDelay,
        maxQueue: f.maxQueue,
        queueTimeoutMs: f.queueTimeout,
        bodyLimit: f.bodyLimit,
        maxPixels: f.maxPixels,
        maxImages: f.maxImages,
        requestTimeoutMs: f.requestTimeout,
        token: f.token ?? (process.env.GRAFT_SERVE_TOKEN || undefined),
        cors: f.cors === undefined ? undefined : f.cors === true ? true : String(f.cors).split(',').map((s) => s.trim()).filter(Boolean),
        rateLimit: f.rateLimit,
        inference: f.inference,
        threads: f.threads,
        modelRoot: f.modelRoot,
        watchMs: f.watch,
        shutdownTimeoutMs: f.shutdownTimeout,
        logLevel: f.logLevel,
      });
      await server.listen();
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) {
            server.app.log.warn({ signal }, 'second signal: exiting now');
            process.exit(1);
          }
          stopping = true;
          server.app.log.info({ signal }, 'draining in-flight requests, then exiting');
          // A last resort if closing itself hangs past the drain deadline.
          setTimeout(() => process.exit(1), f.shutdownTimeout + 5000).unref();
          server.close().then(resolve, (e) => {
            server.app.log.error({ err: e }, 'shutdown failed');
            process.exitCode = 1;
            resolve();
          });
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      });
      server.app.log.info('stopped');
    });
}
