// The prediction server core (Fastify), reusable by other front ends over the same models.
export { createServer, type GraftServer } from './server.js';
export { SERVE_DEFAULTS, resolveServeOptions, type ServeOptions, type ServeModel, type ResolvedServeOptions } from './options.js';
export { ModelRepository, type ServedModel } from './repository.js';
export { ServeMetrics } from './metrics.js';
export { HttpError } from './http-error.js';
export { openRunner, type Runner, type InferenceMode } from './runner.js';
