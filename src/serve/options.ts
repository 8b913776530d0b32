import { z } from 'zod';
import { GraftError } from '../errors.js';

/** A model to serve: its directory, and the name in URLs (default: the directory's name). */
export interface ServeModel {
  dir: string;
  name?: string;
}

/**
 * The server's settings; every limit answers a clear 4xx (or 503 + Retry-After for overload).
 * Defaults are in {@link SERVE_DEFAULTS}, with why each is what it is.
 */
export interface ServeOptions {
  models: ServeModel[];
  /** Interface to bind. Default 127.0.0.1 (this machine only); `0.0.0.0` to expose it. */
  host?: string;
  /** Port; 0 picks a free one (see `server.url`). Default 8080. */
  port?: number;
  /** Most images in one onnxruntime run. */
  maxBatchSize?: number;
  /** How long (ms) an idle model waits for more images before running a partial batch. */
  maxBatchDelayMs?: number;
  /** Images per model allowed to wait for a batch; beyond it: 503 + Retry-After. */
  maxQueue?: number;
  /** How long (ms) a request may wait in the queue before a 503. */
  queueTimeoutMs?: number;
  /** Largest request body in bytes (413 beyond). */
  bodyLimit?: number;
  /** Largest decoded image, in pixels (width × height), checked from the header before decoding (413). */
  maxPixels?: number;
  /** Most images in one request (413 beyond). */
  maxImages?: number;
  /** Time (ms) a client has to send its whole request (408 after it; slow clients). */
  requestTimeoutMs?: number;
  /** Sum of the bodies of requests in flight, bytes (503 beyond): bounds the memory requests hold. */
  maxInFlightBytes?: number;
  /** Event-loop delay (ms) above which requests get 503 (@fastify/under-pressure); 0 turns it off. */
  maxEventLoopDelayMs?: number;
  /** Resident memory (bytes) above which requests get 503; 0 turns it off. */
  maxRssBytes?: number;
  /** Require `Authorization: Bearer <token>` on every route but /v2/health/*. */
  token?: string;
  /** CORS: off by default; `true` allows any origin, a list allows those origins. */
  cors?: boolean | string[];
  /** Per-client (IP) rate limit: at most `max` requests per `windowMs` (429 beyond). Off by default. */
  rateLimit?: { max: number; windowMs: number };
  /** Where batches run: a worker thread per model (default) or the main thread. */
  inference?: 'worker' | 'main';
  /** onnxruntime intra-op threads per model (default: all cores). */
  threads?: number;
  /** Folder under which POST /v2/repository/models/{name}/load may name a new directory. */
  modelRoot?: string;
  /** Poll each model directory every this many ms and reload it when it changes; 0: off. */
  watchMs?: number;
  /** How long (ms) close() lets in-flight requests finish before closing their connections. */
  shutdownTimeoutMs?: number;
  /** pino level of the JSON logs (stdout). Default 'info'; 'silent' for none. */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/**
 * Defaults. Batch settings are provisional until `npm run bench:serve`'s settings sweep
 * (maxBatchSize 1–32, delay 0–10 ms at 32 clients) has run on a quiet machine: on the shared
 * 2-core development machine, onnxruntime ran MobileNetV2 224 no faster per image at batch 8 than
 * at batch 1, while decode + run with a batch's images decoded together was faster at 8. A batch
 * of 8 bounds the batch latency; a 2 ms delay lets concurrent requests meet while the model is
 * idle, and under load batches fill while the previous one runs, without any delay.
 * Body: a 12-megapixel JPEG at high quality is 5–12 MB, so 20 MiB leaves room (TorchServe's
 * 6.5 MB default refuses such photos). Pixels: 50 MP covers phone and DSLR photos and stops
 * decompression bombs far before libvips' own 268 MP limit.
 */
export const SERVE_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  maxBatchSize: 8,
  maxBatchDelayMs: 2,
  maxQueue: 256,
  queueTimeoutMs: 30_000,
  bodyLimit: 20 * 1024 * 1024,
  maxPixels: 50_000_000,
  maxImages: 64,
  requestTimeoutMs: 60_000,
  maxInFlightBytes: 512 * 1024 * 1024,
  maxEventLoopDelayMs: 2000,
  maxRssBytes: 0,
  inference: 'worker' as const,
  watchMs: 0,
  shutdownTimeoutMs: 10_000,
  logLevel: 'info' as const,
});

const int = (min: number) => z.number().int().min(min);

const schema = z.object({
  models: z.array(z.object({ dir: z.string().min(1), name: z.string().optional() })).min(1),
  host: z.string().min(1),
  port: int(0).max(65535),
  maxBatchSize: int(1).max(1024),
  maxBatchDelayMs: z.number().min(0).max(10_000),
  maxQueue: int(1),
  queueTimeoutMs: int(1),
  bodyLimit: int(1024),
  maxPixels: int(1),
  maxImages: int(1),
  requestTimeoutMs: int(0),
  maxInFlightBytes: int(1024),
  maxEventLoopDelayMs: z.number().min(0),
  maxRssBytes: int(0),
  token: z.string().min(1).optional(),
  cors: z.union([z.boolean(), z.array(z.string().min(1))]).optional(),
  rateLimit: z.object({ max: int(1), windowMs: int(1) }).optional(),
  inference: z.enum(['worker', 'main']),
  threads: int(1).optional(),
  modelRoot: z.string().min(1).optional(),
  watchMs: int(0),
  shutdownTimeoutMs: int(0),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});

export type ResolvedServeOptions = z.infer<typeof schema>;

/** Fill defaults and check every option, listing all problems at once. */
export function resolveServeOptions(o: ServeOptions): ResolvedServeOptions {
  const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const r = schema.safeParse({ ...SERVE_DEFAULTS, ...defined });
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new GraftError('E_BAD_OPTIONS', `Invalid server options:\n${lines.join('\n')}`);
  }
  return r.data;
}
