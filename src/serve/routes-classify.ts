// The way most callers classify: the image file itself as the body (TF Serving's `:classify`
// verb, TorchServe's /predictions/{model}), or multipart with one or several files.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { HttpError, badRequest, notFound } from './http-error.js';
import { readFileParts } from './multipart.js';
import { classifyImages, topK, type RequestImage } from './infer.js';
import type { ModelRepository, ServedModel } from './repository.js';

export interface ClassifyContext {
  repo: ModelRepository;
  maxImages: number;
  maxPixels: number;
  bodyLimit: number;
}

type Params = { name?: string; version?: string; spec?: string };

/** `cats:classify` or `3:classify` → the part before the verb; anything else is a 404. */
function verb(spec: string): string {
  const i = spec.lastIndexOf(':');
  if (i <= 0 || spec.slice(i + 1) !== 'classify') throw notFound(`Unknown route: /v1/models/${spec}. Use /v1/models/{name}:classify (or /v1/models/{name}/versions/{v}:classify).`);
  return spec.slice(0, i);
}

function target(p: Params): { name: string; version?: string } {
  if (p.spec !== undefined && p.name === undefined) return { name: verb(p.spec) };
  if (p.spec !== undefined) return { name: p.name!, version: verb(p.spec) };
  return { name: p.name!, version: p.version };
}

function topOf(q: unknown, classes: number): number {
  const raw = (q as { top?: string } | undefined)?.top;
  if (raw === undefined) return Math.min(3, classes);
  const k = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(k >= 1)) throw badRequest(`Query parameter top=${JSON.stringify(raw)} must be an integer >= 1 (how many classes to return).`);
  return Math.min(k, classes);
}

export async function registerClassify(app: FastifyInstance, ctx: ClassifyContext): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    await scope.register(multipart, {
      limits: { fileSize: ctx.bodyLimit, files: ctx.maxImages, fields: 16, fieldSize: 64 * 1024, parts: ctx.maxImages + 16, headerPairs: 64 },
    });
    // Raw bodies of any other type are image bytes (image/jpeg, application/octet-stream, none).
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.bodyLimit }, (_req, body, done) => done(null, body));
    const handler = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
      const t = target(req.params);
      const lease = ctx.repo.acquire(t.name, t.version);
      try {
        return await classify(req, reply, lease.model, ctx);
      } finally {
        lease.release();
      }
    };
    scope.post('/v1/models/:spec', handler);
    scope.post('/v1/models/:name/versions/:spec', handler);
    scope.post('/predictions/:name', handler);
    scope.post('/predictions/:name/:version', handler);
  });
}

async function classify(req: FastifyRequest, reply: FastifyReply, m: ServedModel, ctx: ClassifyContext) {
  const k = topOf(req.query, m.manifest.classes.length);
  const classes = m.manifest.classes;
  if (req.isMultipart()) {
    const files = await readParts(req, ctx);
    const probs = await classifyImages(m, files.map((f) => ({ bytes: f.bytes, label: f.label })), ctx.maxPixels);
    const results = files.map((f, i) => ({ part: f.field, filename: f.filename, predictions: topK(probs, i, classes, k).map(strip) }));
    return reply.send(results.length === 1 ? { model: m.name, version: m.version, predictions: results[0]!.predictions, results } : { model: m.name, version: m.version, results });
  }
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const probs = await classifyImages(m, [{ bytes: body, label: 'request body' }], ctx.maxPixels);
  return reply.send({ model: m.name, version: m.version, predictions: topK(probs, 0, classes, k).map(strip) });
}

const strip = (t: { label: string; index: number; probability: number }) => ({ label: t.label, index: t.index, probability: t.probability });

/**
 * Every file part of a multipart body, read with one byte budget for the whole body (the
 * multipart parser's own limits are per file). Non-file fields are ignored.
 */
async function readParts(req: FastifyRequest, ctx: ClassifyContext): Promise<(RequestImage & { field: string; filename: string })[]> {
  const parts = await readFileParts(req, {
    bodyLimit: ctx.bodyLimit,
    overBudget: `The multipart body exceeds the server's ${ctx.bodyLimit}-byte limit (--body-limit).`,
    partTooLarge: (p) => `File part "${p.field}" (${p.filename}) exceeds the ${ctx.bodyLimit}-byte limit.`,
    limitsHint: `this server takes at most ${ctx.maxImages} images per request, ${ctx.bodyLimit} bytes in all`,
  });
  if (parts.length === 0) throw badRequest('The multipart body holds no file part; send the image(s) as file fields (curl -F image=@photo.jpg).');
  return parts.map((p) => ({ bytes: p.bytes, label: `file part "${p.field}" (${p.filename || 'no filename'})`, field: p.field, filename: p.filename }));
}
