// Operations: Prometheus metrics, and Triton's model repository extension
// (docs/protocol/extension_model_repository.md): index, load, unload.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from './http-error.js';
import type { ServeMetrics } from './metrics.js';
import type { ModelRepository } from './repository.js';

type NameParams = { name: string };

export async function registerOps(app: FastifyInstance, repo: ModelRepository, metrics: ServeMetrics): Promise<void> {
  app.get('/metrics', async (_req, reply) => {
    for (const name of repo.names()) metrics.queueDepth.set({ model: name }, repo.get(name).batcher.depth);
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.post('/v2/repository/index', async () => repo.index());

  app.post('/v2/repository/models/:name/load', async (req: FastifyRequest<{ Params: NameParams }>) => {
    const params = loadParams(req.body);
    const dir = params.dir === undefined ? undefined : repo.resolveApiDir(params.dir);
    const m = await repo.load(req.params.name, dir);
    return { name: m.name, version: m.version, loadSeconds: m.loadSeconds };
  });

  app.post('/v2/repository/models/:name/unload', async (req: FastifyRequest<{ Params: NameParams }>) => {
    await repo.unload(req.params.name);
    return { name: req.params.name, unloaded: true };
  });
}

/** The load request's optional `{ "parameters": { "dir": … } }`. */
function loadParams(body: unknown): { dir?: unknown } {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('The load request body must be a JSON object, e.g. {"parameters": {"dir": "cats-v2"}}, or empty.');
  const p = (body as { parameters?: unknown }).parameters;
  if (p === undefined) return {};
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw badRequest('"parameters" must be an object.');
  return p as { dir?: unknown };
}
