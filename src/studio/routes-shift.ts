// Shift: upload a folder of unlabelled deployment images; `graft shift` compares them with the
// project's labelled images through a version's features and answers with its verdict. The
// images are kept in .graft/deploy/<id>/ (the user's, so never deleted by the studio), and the
// same check runs from the CLI: graft shift <project>/.graft/models/vN <project> <that folder>.
// Adapt: `graft adapt` (AdaBN or CORAL) of a version to such a folder, stored as a new version.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import { HttpError, badRequest } from '../serve/http-error.js';
import { decodeRequestImage } from '../serve/images.js';
import { checkName } from './project.js';
import { forkStudioChild } from './settings.js';
import { GraftError } from '../errors.js';
import type { StudioContext } from './context.js';

export async function registerShiftRoutes(app: FastifyInstance, ctx: StudioContext): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(multipart, { preservePath: true, limits: { fileSize: ctx.bodyLimit, files: 2000, fields: 4, fieldSize: 1024, parts: 2004, headerPairs: 64 } });
    scope.post('/api/shift', async (req) => {
      const version = (req.query as { version?: string }).version;
      const model = ctx.trainer.versionDir(version);
      if (!req.isMultipart()) throw badRequest('Upload the deployment images as multipart file fields.');
      const id = `${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
      const dir = path.join(ctx.project.meta, 'deploy', id);
      fs.mkdirSync(dir, { recursive: true });
      let kept = 0;
      const refused: { name: string; error: string }[] = [];
      for await (const part of req.parts()) {
        if (part.type !== 'file') continue;
        const bytes = await part.toBuffer().catch((e: Error & { code?: string }) => {
          throw e.code === 'FST_REQ_FILE_TOO_LARGE' ? new HttpError(413, `"${part.filename}" exceeds the ${ctx.bodyLimit}-byte limit.`) : badRequest(e.message);
        });
        try {
          const name = checkName(part.filename, 'file');
          await decodeRequestImage(bytes, `"${name}"`, { inputSize: [32, 32], resize: 'crop' } as never, ctx.maxPixels);
          fs.writeFileSync(path.join(dir, `${kept}-${name}`), bytes);
          kept++;
        } catch (e) {
          if (e instanceof HttpError && e.status === 413) throw e;
          refused.push({ name: part.filename, error: (e as Error).message });
        }
      }
      if (kept < 2) throw badRequest(`A shift test needs at least 2 readable deployment images; received ${kept}${refused.length ? ` (refused: ${refused.map((r) => r.name).join(', ')})` : ''}.`);
      const report = await new Promise<unknown>((resolve, reject) => {
        const child = forkStudioChild('shift-child', [JSON.stringify({ model, a: ctx.project.root, b: dir, cacheDir: ctx.settings.cacheDir })]);
        let stderr = '';
        child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
        child.on('message', (m: { report?: unknown; error?: string }) => (m.report ? resolve(m.report) : reject(badRequest(`graft shift failed: ${m.error}`))));
        child.on('exit', (code) => reject(new Error(`The shift process ended (${code}): ${stderr.trim().split('\n').at(-1) ?? ''}`)));
      });
      return { version, folder: ctx.project.idOf(dir), images: kept, refused, report, cli: `graft shift ${model} ${ctx.project.root} ${dir}` };
    });
  });

  /** `graft adapt` of `version` to a deployment folder that /api/shift received (default: the latest); answers once the new version is stored. */
  app.post('/api/adapt', async (req, reply) => {
    const q = req.query as { version?: string; method?: string; folder?: string };
    const method = q.method ?? 'adabn';
    if (method !== 'adabn' && method !== 'coral') throw badRequest(`Unknown adaptation method ${JSON.stringify(method).slice(0, 40)}; the studio offers adabn (default) and coral (pseudo-label and dann: graft adapt from the CLI).`);
    ctx.trainer.versionDir(q.version);
    const deploy = path.join(ctx.project.meta, 'deploy');
    const folders = fs.existsSync(deploy) ? fs.readdirSync(deploy).filter((n) => fs.statSync(path.join(deploy, n)).isDirectory()) : [];
    let name: string | undefined;
    if (q.folder !== undefined && q.folder !== '') {
      const m = /^(?:\.graft\/deploy\/)?([\w-]{1,64})$/.exec(q.folder);
      if (!m || !folders.includes(m[1]!)) throw new GraftError('E_STUDIO_NOT_FOUND', `No deployment folder ${JSON.stringify(q.folder).slice(0, 80)}.`, 'Send the `folder` that POST /api/shift answered (.graft/deploy/<id>).');
      name = m[1];
    } else name = folders.sort((a, b) => fs.statSync(path.join(deploy, a)).mtimeMs - fs.statSync(path.join(deploy, b)).mtimeMs).at(-1);
    if (!name) throw new GraftError('E_STUDIO_NOT_FOUND', 'No deployment folder yet.', 'Run the deployment check first (POST /api/shift with the images).');
    const target = path.join(deploy, name);
    const r = await ctx.trainer.adapt(q.version!, method, target);
    // The CLI writes the adapted model outside the project (never inside the data it reads).
    return reply.code(201).send({ ...r, folder: ctx.project.idOf(target), cli: `graft adapt ${ctx.trainer.versionDir(q.version)} --target ${target} --method ${method} --out ${path.basename(ctx.project.root)}-${r.version}-${method}` });
  });
}
