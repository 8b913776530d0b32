// The project's data over REST: classes, images (upload, list, thumbnails, move, delete,
// restore) and the prototype preview. Every path in a request is a class name or an image id
// checked by Project (one segment each, no dots, no separators): traversal is refused there.
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { decodeRequestImage } from '../serve/images.js';
import { HttpError, badRequest } from '../serve/http-error.js';
import { readFileParts } from '../serve/multipart.js';
import type { GraftManifest } from '../io/manifest.js';
import { isGraftError } from '../errors.js';
import { INBOX, checkName, type ImageEntry } from './project.js';
import { guess } from './embedder.js';
import type { StudioContext } from './context.js';

/** Uploads are decoded once at this size to prove the CLI's decoder reads them. */
const CHECK = { inputSize: [32, 32], resize: 'crop' } as unknown as GraftManifest;

const MIME: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.jpe': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif', '.tif': 'image/tiff', '.tiff': 'image/tiff', '.avif': 'image/avif' };

const labelOf = (q: unknown): string | null => {
  const l = (q as { label?: string } | undefined)?.label;
  return l === undefined || l === '' || l === INBOX ? null : checkName(l, 'class');
};

const idsOf = (body: unknown): string[] => {
  const ids = (body as { ids?: unknown } | undefined)?.ids;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string')) throw badRequest('Send {"ids": ["<class>/<file>", …]} (a non-empty list of image ids).');
  return ids as string[];
};

export async function registerDataRoutes(app: FastifyInstance, ctx: StudioContext): Promise<void> {
  const { project, embedder } = ctx;

  app.get('/api/project', async () => ({
    root: project.root,
    classes: project.classes(),
    inbox: project.images(null).total,
    settings: { backbone: ctx.settings.backbone, weights: ctx.settings.weights, inputSize: ctx.settings.inputSize },
    embedding: embedder.status(),
    train: ctx.trainer.state,
    versions: ctx.trainer.versions().map((v) => ({ version: v.version, createdAt: v.createdAt, accuracy: v.accuracy, ...(v.adaptedFrom ? { adaptedFrom: { version: v.adaptedFrom.version, method: v.adaptedFrom.method } } : {}) })),
  }));

  app.post('/api/classes', async (req, reply) => {
    const name = project.createClass((req.body as { name?: string } | undefined)?.name as string);
    return reply.code(201).send({ name });
  });
  app.patch<{ Params: { name: string } }>('/api/classes/:name', async (req) => ({ name: project.renameClass(req.params.name, (req.body as { name?: string } | undefined)?.name as string) }));
  app.delete<{ Params: { name: string } }>('/api/classes/:name', async (req) => ({ trashed: project.deleteClass(req.params.name) }));

  app.get('/api/images', async (req) => {
    const q = req.query as { offset?: string; limit?: string };
    const label = labelOf(req.query);
    const offset = Math.max(0, Number(q.offset ?? 0) || 0);
    const limit = Math.min(5000, Math.max(1, Number(q.limit ?? 500) || 500));
    const page = project.images(label, offset, limit);
    // The inbox comes pre-labelled, with confidence: by the latest trained version's model.onnx
    // once there is one (computed in the background; `pending` counts what is not ready yet),
    // else, and meanwhile, by the prototype head.
    const latest = label === null ? ctx.trainer.versions().at(-1)?.version : undefined;
    const abs = page.images.map((i) => project.resolveImage(i.id).abs);
    const byVersion = latest ? ctx.inbox.guesses(latest, ctx.trainer.versionDir(latest), abs) : undefined;
    const model = label === null ? embedder.prototypes(project.labelled()) : undefined;
    return {
      total: page.total,
      offset,
      ...(label === null ? { guessedBy: latest ?? (model ? 'prototype' : null), pending: byVersion?.pending ?? 0 } : {}),
      images: page.images.map((i, n) => {
        const vec = embedder.vectorOf(abs[n]!);
        const v = byVersion?.guesses[n];
        const p = !v && vec && model ? guess(model, vec) : undefined;
        const g = v ? { label: v.label, confidence: v.confidence, by: latest } : p ? { label: p.label, confidence: p.confidence, by: 'prototype' } : undefined;
        return { ...i, embedded: vec !== undefined, error: embedder.failureOf(abs[n]!), guess: g };
      }),
    };
  });

  app.get('/api/thumb', async (req, reply) => {
    const { abs } = project.resolveImage((req.query as { id?: string }).id);
    try {
      return reply.type('image/webp').header('cache-control', 'private, max-age=3600').send(await ctx.thumbs.get(abs));
    } catch (e) {
      throw new HttpError(422, `No thumbnail: the image cannot be decoded (${(e as Error).message.split('\n')[0]}).`);
    }
  });
  app.get('/api/image', async (req, reply) => {
    const { abs } = project.resolveImage((req.query as { id?: string }).id);
    const type = MIME[path.extname(abs).toLowerCase()] ?? 'application/octet-stream';
    return reply.type(type).header('cache-control', 'private, max-age=3600').send(fs.createReadStream(abs));
  });

  await app.register(async (scope) => {
    // preservePath: see the name the client sent, so "../x.png" is refused rather than quietly cut to "x.png".
    await scope.register(multipart, { preservePath: true, limits: { fileSize: ctx.bodyLimit, files: ctx.maxFiles, fields: 8, fieldSize: 1024, parts: ctx.maxFiles + 8, headerPairs: 64 } });
    scope.post('/api/images', async (req, reply) => {
      const label = labelOf(req.query);
      project.dirOf(label); // the class must exist before any byte is stored
      const added: ImageEntry[] = [];
      const failed: { name: string; error: string }[] = [];
      for (const f of await readFiles(req, ctx)) {
        try {
          checkName(f.name, 'file');
          await decodeRequestImage(f.bytes, `"${f.name}"`, CHECK, ctx.maxPixels);
          added.push(project.addImage(label, f.name, f.bytes));
        } catch (e) {
          if (e instanceof HttpError && e.status === 413) throw e;
          if (!(e instanceof HttpError) && !isGraftError(e)) throw e;
          failed.push({ name: f.name, error: e.message });
        }
      }
      embedder.add(added.map((a) => project.resolveImage(a.id).abs));
      return reply.code(added.length ? 201 : 400).send({ added, failed });
    });
  });

  app.post('/api/images/move', async (req) => {
    const to = (req.body as { to?: string | null }).to ?? null;
    const target = to === null || to === INBOX ? null : checkName(to, 'class');
    project.dirOf(target);
    return { moved: idsOf(req.body).map((id) => ({ from: id, ...project.moveImage(id, target) })) };
  });
  app.post('/api/images/delete', async (req) => ({ trashed: idsOf(req.body).map((id) => project.deleteImage(id)) }));
  app.get('/api/trash', async () => ({ entries: project.trash() }));
  app.post<{ Params: { id: string } }>('/api/trash/:id/restore', async (req) => {
    const r = project.restore(req.params.id);
    // Restored images keep their inode, so their embeddings are found again; anything new is queued.
    embedder.add(project.labelled().map((l) => l.path));
    return r;
  });

  /** The prototype head now: per-class counts, its leave-one-out accuracy on the labelled images. */
  app.get('/api/preview', async () => {
    const labelled = project.labelled();
    const model = embedder.prototypes(labelled);
    if (!model) return { ready: false, embedding: embedder.status(), reason: 'needs embedded images of at least two classes' };
    let right = 0;
    let n = 0;
    for (const l of labelled) {
      const v = embedder.vectorOf(l.path);
      if (!v || !model.classes.includes(l.label)) continue;
      n++;
      if (guess(model, v).label === l.label) right++;
    }
    return { ready: true, classes: model.classes, embedding: embedder.status(), fitAccuracy: n ? right / n : undefined, images: n };
  });
}

/** Every file part of a multipart upload, within one byte budget for the whole body. */
async function readFiles(req: FastifyRequest, ctx: StudioContext): Promise<{ name: string; bytes: Buffer }[]> {
  if (!req.isMultipart()) throw badRequest('Upload images as multipart/form-data file fields (curl -F file=@photo.jpg).');
  const parts = await readFileParts(req, {
    bodyLimit: ctx.bodyLimit,
    overBudget: `The upload exceeds the studio's ${ctx.bodyLimit}-byte limit per request; send fewer files at a time.`,
    partTooLarge: (p) => `"${p.filename}" exceeds the ${ctx.bodyLimit}-byte limit.`,
    limitsHint: `at most ${ctx.maxFiles} files and ${ctx.bodyLimit} bytes per upload`,
  });
  if (parts.length === 0) throw badRequest('The upload holds no file part.');
  return parts.map((p) => ({ name: p.filename, bytes: p.bytes }));
}
