// Training, model versions, Inspect, Try and Export over REST; training progress as
// Server-Sent Events (`id:` on every message, so a reconnecting EventSource resumes with
// Last-Event-ID and misses nothing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { Classifier } from '../workflow/predict.js';
import { decodeRequestImage } from '../serve/images.js';
import { HttpError, badRequest } from '../serve/http-error.js';
import { guess } from './embedder.js';
import { zipModelDir } from './zip.js';
import { checkAdvanced } from './trainer.js';
import type { StudioContext } from './context.js';

type V = { Params: { v: string } };

export async function registerModelRoutes(app: FastifyInstance, ctx: StudioContext): Promise<void> {
  const { trainer, project } = ctx;
  const classifiers = new Map<string, Promise<Classifier>>();
  app.addHook('onClose', async () => {
    for (const c of classifiers.values()) (await c.catch(() => undefined))?.dispose();
  });

  app.get('/api/train', async () => trainer.state);
  app.post('/api/train', async (req, reply) => reply.code(202).send(trainer.start(checkAdvanced((req.body as { options?: unknown } | undefined)?.options))));
  app.post('/api/train/cancel', async () => trainer.cancel());

  app.get('/api/events', (req, reply) => {
    const last = Number(req.headers['last-event-id'] ?? (req.query as { lastEventId?: string }).lastEventId ?? 0) || 0;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 1000\n\n');
    const off = trainer.subscribe(last, (m) => res.write(`id: ${m.id}\nevent: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`));
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(beat);
      off();
    });
  });

  app.get('/api/versions', async () => ({ versions: trainer.versions() }));
  app.get<V>('/api/versions/:v', async (req) => {
    const v = trainer.versions().find((x) => x.version === req.params.v);
    trainer.versionDir(req.params.v);
    return { ...v, inspect: toIds(trainer.inspect(req.params.v), project.root) };
  });
  app.get<V>('/api/versions/:v/report', async (req, reply) => reply.type('text/html').send(fs.createReadStream(path.join(trainer.versionDir(req.params.v), 'report.html'))));
  app.get<V>('/api/versions/:v/model.onnx', async (req, reply) => reply.type('application/octet-stream').send(fs.createReadStream(path.join(trainer.versionDir(req.params.v), 'model.onnx'))));
  app.get<V>('/api/versions/:v/graft.json', async (req, reply) => reply.type('application/json').send(fs.readFileSync(path.join(trainer.versionDir(req.params.v), 'graft.json'))));
  app.get<V>('/api/versions/:v/export.zip', async (req, reply) => {
    const dir = trainer.versionDir(req.params.v);
    const name = `${path.basename(project.root)}-${req.params.v}`.replace(/[^\w.-]/g, '_');
    return reply.type('application/zip').header('content-disposition', `attachment; filename="${name}.zip"`).send(Buffer.from(zipModelDir(dir, name)));
  });

  await app.register(async (scope) => {
    await scope.register(multipart, { limits: { fileSize: ctx.bodyLimit, files: 1, fields: 4, fieldSize: 1024, parts: 5, headerPairs: 64 } });
    /** Classify one image on the server: `?via=prototype` (the live prototype head) or `?via=vN` (that version's model.onnx, as graft predict). */
    scope.post('/api/try', async (req) => {
      const via = (req.query as { via?: string }).via ?? 'prototype';
      const bytes = await oneFile(req, ctx.bodyLimit);
      if (via === 'prototype') {
        const model = ctx.embedder.prototypes(project.labelled());
        if (!model) throw new HttpError(409, 'The prototype head needs embedded images of at least two classes first.');
        await decodeRequestImage(bytes, 'image', { inputSize: [32, 32], resize: 'crop' } as never, ctx.maxPixels);
        const tmp = path.join(os.tmpdir(), `graft-studio-try-${crypto.randomUUID()}.img`);
        fs.writeFileSync(tmp, bytes);
        try {
          const r = await ctx.embedder.run([tmp], true);
          if (!r.rows[0]) throw badRequest(`The image cannot be decoded: ${r.failed[0]?.reason ?? 'unknown reason'}`);
          const g = guess(model, r.rows[0].vec);
          return { via, top: ranked(model.classes, g.probabilities) };
        } finally {
          fs.rmSync(tmp, { force: true });
        }
      }
      const dir = trainer.versionDir(via);
      let c = classifiers.get(via);
      if (!c) classifiers.set(via, (c = Classifier.load(dir)));
      const clf = await c;
      const rgb = await decodeRequestImage(bytes, 'image', clf.manifest, ctx.maxPixels);
      const probs = await clf.predictPixels(rgb, 1);
      return { via, top: ranked(clf.classes, Array.from(probs)) };
    });
  });
}

const ranked = (classes: string[], p: number[]) => p.map((probability, index) => ({ label: classes[index]!, index, probability })).sort((a, b) => b.probability - a.probability);

/** Inspect data with image ids (relative to the project) instead of absolute paths; images moved or deleted since are marked gone. */
function toIds(inspect: unknown, root: string): unknown {
  if (!inspect) return undefined;
  const i = inspect as { images: { path: string }[] };
  return { ...i, images: i.images.map(({ path: p, ...rest }) => ({ ...rest, id: path.relative(root, p).split(path.sep).join('/'), gone: !fs.existsSync(p) })) };
}

async function oneFile(req: FastifyRequest, limit: number): Promise<Buffer> {
  if (!req.isMultipart()) {
    const b = req.body;
    if (Buffer.isBuffer(b) && b.length) return b;
    throw badRequest('Send the image as a multipart file field (curl -F image=@photo.jpg).');
  }
  const f = await req.file().catch((e: Error) => {
    throw badRequest(`The multipart body is malformed: ${e.message}`);
  });
  if (!f) throw badRequest('The upload holds no file part.');
  const buf = await f.toBuffer().catch((e: Error & { code?: string }) => {
    throw e.code === 'FST_REQ_FILE_TOO_LARGE' ? new HttpError(413, `The image exceeds the ${limit}-byte limit.`) : badRequest(e.message);
  });
  return buf;
}
