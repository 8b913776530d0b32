import crypto from 'node:crypto';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import underPressure from '@fastify/under-pressure';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { GraftError, isGraftError } from '../errors.js';
import { HttpError, busy } from './http-error.js';
import { ServeMetrics } from './metrics.js';
import { resolveServeOptions, type ResolvedServeOptions, type ServeOptions } from './options.js';
import { ModelRepository, defaultModelName } from './repository.js';
import { registerClassify } from './routes-classify.js';
import { registerOip, routeModel } from './routes-oip.js';
import { registerOps } from './routes-ops.js';
import { watchModels } from './watch.js';

/** A prediction server: its Fastify app, models, metrics, and its lifecycle. */
export interface GraftServer {
  /** `http://host:port` once listening. */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly repository: ModelRepository;
  readonly metrics: ServeMetrics;
  readonly options: ResolvedServeOptions;
  /** Bind host:port; resolves with the URL. */
  listen(): Promise<string>;
  /**
   * Stop accepting requests (readiness turns 503, new requests get 503), let in-flight requests
   * finish for up to `shutdownTimeoutMs`, then close connections, batches and workers.
   */
  close(): Promise<void>;
}

/** Loaded-model and load-failure codes a load request answers with 400: the directory is the problem. */
const LOAD_CODES = new Set(['E_NOT_A_MODEL_DIR', 'E_BAD_MANIFEST', 'E_NO_ONNX', 'E_MODEL_DIR_DAMAGED', 'E_MODEL_DIR_MISMATCH']);

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();

/**
 * Build a prediction server over Graft model directories: every model is loaded (session
 * created and checked) before this resolves; `listen()` then binds. The Fastify app is exposed
 * for callers that add routes of their own.
 *
 * @example
 * const server = await createServer({ models: [{ name: 'cats', dir: 'models/cats' }], port: 0 });
 * const url = await server.listen();
 * const r = await fetch(`${url}/v1/models/cats:classify`, { method: 'POST', body: fs.readFileSync('cat.jpg'), headers: { 'content-type': 'image/jpeg' } });
 * console.log((await r.json()).predictions[0].label);
 * await server.close();
 */
export async function createServer(input: ServeOptions): Promise<GraftServer> {
  const o = resolveServeOptions(input);
  const names = o.models.map((m) => m.name ?? defaultModelName(m.dir));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new GraftError('E_SERVE_DUPLICATE_NAME', `Two models are named "${dup}".`, 'Give each a name of its own: graft serve a=dirA b=dirB');

  const app = Fastify({
    logger: { level: o.logLevel },
    // One debug line per request from our own hook instead of Fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimit,
    requestTimeout: o.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200 },
  });
  const metrics = new ServeMetrics({ maxBatchSize: o.maxBatchSize });
  const repo = new ModelRepository({
    mode: o.inference,
    threads: o.threads,
    batch: { maxBatchSize: o.maxBatchSize, maxBatchDelayMs: o.maxBatchDelayMs, maxQueueImages: o.maxQueue, queueTimeoutMs: o.queueTimeoutMs },
    metrics,
    modelRoot: o.modelRoot,
    log: app.log,
  });
  try {
    for (let i = 0; i < o.models.length; i++) await repo.load(names[i]!, o.models[i]!.dir);
  } catch (e) {
    await repo.close();
    throw e;
  }

  let accepting = true;
  let inFlightBytes = 0;
  const bodyTimers = new WeakMap<FastifyRequest, NodeJS.Timeout>();
  const want = o.token === undefined ? undefined : sha256(o.token);

  app.addHook('onRequest', async (req, reply) => {
    const start = performance.now();
    metrics.inFlight.inc();
    let reserved = 0;
    reply.raw.once('close', () => {
      metrics.inFlight.dec();
      inFlightBytes -= reserved;
      const model = routeModel(req);
      const labels = { model: model === undefined ? 'none' : repo.has(model) ? model : '_unknown', route: req.routeOptions.url ?? '_none' };
      metrics.requests.inc({ ...labels, status: String(reply.statusCode) });
      metrics.latency.observe(labels, (performance.now() - start) / 1000);
      req.log.debug({ ...labels, status: reply.statusCode, ms: Number((performance.now() - start).toFixed(2)) }, 'request done');
    });
    if (want && !req.url.startsWith('/v2/health/')) checkToken(req, want);
    if (req.method === 'POST' && o.requestTimeoutMs > 0) {
      // Slow clients: the body must have arrived within requestTimeoutMs (Node's own requestTimeout
      // is checked only every 30 s and answers nothing once the headers are in).
      const timer = setTimeout(() => {
        if (reply.sent) return;
        reply.raw.once('finish', () => req.raw.socket?.destroy());
        void reply.code(408).header('connection', 'close').send({ error: `The request did not arrive within ${o.requestTimeoutMs} ms (--request-timeout); the connection is closed.` });
      }, o.requestTimeoutMs);
      bodyTimers.set(req, timer);
      reply.raw.once('close', () => clearTimeout(timer));
    }
    if (req.method === 'POST') {
      // Bound what request bodies can hold in memory at once, before any body is read.
      const declared = Number(req.headers['content-length']);
      reserved = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, o.bodyLimit) : o.bodyLimit;
      if (inFlightBytes + reserved > o.maxInFlightBytes) {
        reserved = 0;
        throw busy(`The server holds ${inFlightBytes} bytes of request bodies (limit ${o.maxInFlightBytes}); retry later.`);
      }
      inFlightBytes += reserved;
      const model = routeModel(req);
      if (model !== undefined && repo.has(model) && repo.get(model).batcher.depth >= o.maxQueue) {
        throw busy(`The queue of model "${model}" is full (${o.maxQueue} images waiting); retry later.`);
      }
    }
  });

  app.addHook('preValidation', async (req) => clearTimeout(bodyTimers.get(req)));
  // While draining, every answer tells the client to close its connection.
  app.addHook('onSend', async (_req, reply) => {
    if (!accepting) reply.header('connection', 'close');
  });

  if (o.maxEventLoopDelayMs > 0 || o.maxRssBytes > 0) {
    await app.register(underPressure, { maxEventLoopDelay: o.maxEventLoopDelayMs, maxRssBytes: o.maxRssBytes, retryAfter: 1 });
  }
  if (o.cors) await app.register(cors, { origin: o.cors === true ? true : o.cors });
  if (o.rateLimit) {
    await app.register(rateLimit, {
      max: o.rateLimit.max,
      timeWindow: o.rateLimit.windowMs,
      allowList: (req) => req.url.startsWith('/v2/health/'),
      errorResponseBuilder: (_req, c) => Object.assign(new Error(`Rate limit exceeded: at most ${c.max} requests per client in ${o.rateLimit!.windowMs} ms; retry in ${c.after}.`), { statusCode: c.statusCode }),
    });
  }

  app.setErrorHandler((err: FastifyError | HttpError | Error, req, reply) => {
    if (err instanceof HttpError) return reply.headers(err.headers).code(err.status).send({ error: err.message });
    if (isGraftError(err)) {
      if (err.code === 'E_SERVE_WORKER') return reply.header('retry-after', '5').code(503).send({ error: err.message });
      if (LOAD_CODES.has(err.code)) return reply.code(400).send({ error: err.message });
    }
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return reply.code(status).send({ error: clientMessage(err as FastifyError) });
    if (status === 503) return reply.code(503).send({ error: `The server is overloaded (${err.message}); retry later.` });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: `Internal server error: ${err.message}` });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `No route ${req.method} ${req.url.split('?')[0]}. See GET /v2 and the README's "Serving" section.` }));

  await registerOip(app, { repo, maxImages: o.maxImages, maxPixels: o.maxPixels, bodyLimit: o.bodyLimit, accepting: () => accepting });
  await registerClassify(app, { repo, maxImages: o.maxImages, maxPixels: o.maxPixels, bodyLimit: o.bodyLimit });
  await registerOps(app, repo, metrics);

  const stopWatch = o.watchMs > 0 ? watchModels(repo, o.watchMs, app.log) : () => undefined;
  let url = '';
  let closed: Promise<void> | undefined;
  const server: GraftServer = {
    get url() {
      return url;
    },
    app,
    repository: repo,
    metrics,
    options: o,
    async listen() {
      await app.listen({ host: o.host, port: o.port });
      const a = app.server.address();
      const port = typeof a === 'object' && a ? a.port : o.port;
      url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
      app.log.info({ url, models: repo.index() }, 'graft serve listening');
      return url;
    },
    close() {
      closed ??= (async () => {
        accepting = false;
        stopWatch();
        // Keep-alive connections that finish their last response during the drain are idle
        // too: close them as they become idle, not only those idle when close() began.
        const sweeper = setInterval(() => app.server.closeIdleConnections(), 50);
        const deadline = setTimeout(() => {
          app.log.warn({ timeoutMs: o.shutdownTimeoutMs }, 'shutdown deadline reached: closing open connections');
          app.server.closeAllConnections();
        }, o.shutdownTimeoutMs);
        try {
          await app.close();
        } finally {
          clearTimeout(deadline);
          clearInterval(sweeper);
          await repo.close();
        }
      })();
      return closed;
    },
  };
  return server;
}

function checkToken(req: FastifyRequest, want: Buffer): void {
  const h = req.headers.authorization;
  const got = typeof h === 'string' && /^Bearer /i.test(h) ? h.slice(7).trim() : undefined;
  // Compare digests: equal lengths whatever was sent, and the compare itself takes constant time.
  if (got === undefined || !crypto.timingSafeEqual(sha256(got), want)) {
    throw new HttpError(401, got === undefined ? 'This server requires "Authorization: Bearer <token>".' : 'The bearer token is not valid.', { 'www-authenticate': 'Bearer' });
  }
}

/** Fastify's own 4xx messages, made to say which limit was hit. */
function clientMessage(err: FastifyError): string {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `The request body is larger than the server's limit (--body-limit): ${err.message}`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The request has Content-Type application/json but an empty body; send a JSON object or no Content-Type.';
    default:
      return err.message;
  }
}
