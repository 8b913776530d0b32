import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { isGraftError } from '../errors.js';
import { HttpError } from '../serve/http-error.js';
import { SERVE_DEFAULTS } from '../serve/options.js';
import { Project } from './project.js';
import { Embedder } from './embedder.js';
import { Trainer } from './trainer.js';
import { Thumbnails } from './thumbs.js';
import { InboxModel } from './inbox.js';
import { readSettings, type StudioModelSettings } from './settings.js';
import { registerDataRoutes } from './routes-data.js';
import { registerModelRoutes } from './routes-model.js';
import { registerShiftRoutes } from './routes-shift.js';
import type { StudioContext } from './context.js';

export type { StudioContext } from './context.js';

export interface StudioOptions extends Partial<StudioModelSettings> {
  /** The project folder (created when missing): one sub-folder per class, plus .graft/. */
  project: string;
  /** Default 127.0.0.1: this machine only. */
  host?: string;
  /** Default 8765; 0 picks a free port. */
  port?: number;
  /** The session token every API call must carry; default 32 random bytes, hex. */
  token?: string;
  /** Largest upload body, bytes (as `graft serve`'s --body-limit). */
  bodyLimit?: number;
  /** Largest decoded image, pixels, checked from the header before decoding. */
  maxPixels?: number;
  /** Most files in one upload request. */
  maxFiles?: number;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export interface Studio {
  readonly app: FastifyInstance;
  readonly ctx: StudioContext;
  readonly token: string;
  /** Bind; resolves with the URL to open (token included). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** Where the built browser app is (scripts/build-studio.mjs writes it during `npm run build`). */
export function uiDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'studio-ui');
}

/** onnxruntime-web's files (the wasm runtime the page loads), served locally: no CDN. */
function ortWebDir(): string {
  const entry = fileURLToPath(import.meta.resolve('onnxruntime-web'));
  let dir = path.dirname(entry);
  while (path.basename(dir) !== 'dist' && dir !== path.dirname(dir)) dir = path.dirname(dir);
  return dir;
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();

const STATUS: Record<string, number> = { E_STUDIO_BAD_NAME: 400, E_STUDIO_NOT_FOUND: 404, E_STUDIO_EXISTS: 409, E_STUDIO_BUSY: 409, E_STUDIO_ADAPT: 422 };

/**
 * The studio server: the project's REST API under /api (every call carries the session token,
 * compared in constant time), Server-Sent Events for training, the browser app and
 * onnxruntime-web's wasm files. See the README's "Studio" section for the API.
 *
 * @example
 * const studio = await createStudio({ project: 'photos', port: 0 });
 * console.log(await studio.listen()); // http://127.0.0.1:PORT/?token=…
 */
export async function createStudio(o: StudioOptions): Promise<Studio> {
  fs.mkdirSync(o.project, { recursive: true });
  const project = new Project(o.project);
  const settings = readSettings(project.meta, { backbone: o.backbone, weights: o.weights, inputSize: o.inputSize, cacheDir: o.cacheDir });
  const ctx: StudioContext = {
    project,
    settings,
    embedder: new Embedder(settings),
    trainer: new Trainer(project, settings),
    thumbs: new Thumbnails(path.join(project.meta, 'thumbs')),
    inbox: new InboxModel(),
    bodyLimit: o.bodyLimit ?? SERVE_DEFAULTS.bodyLimit,
    maxPixels: o.maxPixels ?? SERVE_DEFAULTS.maxPixels,
    maxFiles: o.maxFiles ?? 256,
  };
  const token = o.token ?? crypto.randomBytes(32).toString('hex');
  const want = sha256(token);
  const app = Fastify({
    logger: { level: o.logLevel ?? 'info' },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 300 },
    // Open EventSource streams would otherwise hold close() until the browser tab goes away.
    forceCloseConnections: true,
  });

  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/api/')) checkToken(req, want);
  });
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof HttpError) return reply.headers(err.headers).code(err.status).send({ error: err.message });
    if (isGraftError(err)) return reply.code(STATUS[err.code] ?? 400).send({ error: err.message, code: err.code });
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return reply.code(status).send({ error: (err as Error).message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: `Internal server error: ${(err as Error).message}` });
  });

  if (fs.existsSync(path.join(uiDir(), 'index.html'))) await app.register(fastifyStatic, { root: uiDir(), prefix: '/', index: 'index.html' });
  else app.get('/', async (_req, reply) => reply.type('text/html').send(`<p>The studio's browser app is not built (${uiDir()} is missing): run <code>npm run build</code>. The REST API under /api works.</p>`));
  await app.register(fastifyStatic, { root: ortWebDir(), prefix: '/ort/', decorateReply: false, allowedPath: (p) => /^\/ort\.wasm\.min\.mjs$|^\/ort-wasm-simd-threaded\.(mjs|wasm)$/.test(p) });
  await registerDataRoutes(app, ctx);
  await registerModelRoutes(app, ctx);
  await registerShiftRoutes(app, ctx);

  // Images already in the folder: thumbnails on demand, embeddings now, in the background.
  ctx.embedder.add(project.labelled().map((l) => l.path));
  ctx.embedder.add(project.images(null).images.map((i) => project.resolveImage(i.id).abs));

  let url = '';
  return {
    app,
    ctx,
    token,
    async listen() {
      const host = o.host ?? '127.0.0.1';
      await app.listen({ host, port: o.port ?? 8765 });
      const a = app.server.address();
      const port = typeof a === 'object' && a ? a.port : o.port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/?token=${token}`;
      return url;
    },
    async close() {
      await ctx.trainer.close();
      await ctx.inbox.close();
      ctx.embedder.close();
      await app.close();
    },
  };
}

/** `Authorization: Bearer <token>`, or `?token=` for what a browser cannot add headers to (img, EventSource, downloads). */
function checkToken(req: FastifyRequest, want: Buffer): void {
  const h = req.headers.authorization;
  const q = (req.query as { token?: unknown } | undefined)?.token;
  const got = typeof h === 'string' && /^Bearer /i.test(h) ? h.slice(7).trim() : typeof q === 'string' ? q : undefined;
  // Compare digests: equal lengths whatever was sent, and timingSafeEqual takes constant time.
  if (got === undefined || !crypto.timingSafeEqual(sha256(got), want)) {
    throw new HttpError(401, got === undefined ? 'The studio API needs the session token: "Authorization: Bearer <token>" or ?token=<token> (graft studio prints it in the URL).' : 'The session token is not valid.', { 'www-authenticate': 'Bearer' });
  }
}
