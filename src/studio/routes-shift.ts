// Shift: upload a folder of unlabelled deployment images; `graft shift` compares them with the
// project's labelled images through a version's features and answers with its verdict. The
// images are kept in .graft/deploy/<id>/ (the user's, so never deleted by the studio), and the
// same check runs from the CLI: graft shift <project>/.graft/models/vN <project> <that folder>.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import { HttpError, badRequest } from '../serve/http-error.js';
import { decodeRequestImage } from '../serve/images.js';
import { checkName } from './project.js';
import { forkStudioChild } from './settings.js';
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
}
