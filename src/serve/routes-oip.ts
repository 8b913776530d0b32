// Open Inference Protocol v2 over REST (KServe open-inference-protocol,
// specification/protocol/inference_rest.md): server and model metadata, health, inference with
// JSON tensors and Triton's binary tensor extension, and Triton's classification extension
// (docs/protocol/extension_classification.md: top-k as BYTES "value:index:label").
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GRAFT_VERSION } from '../io/manifest.js';
import { classifyImages, topK } from './infer.js';
import type { ModelRepository, ServedModel } from './repository.js';
import { IMAGE_INPUT, OUTPUT, PIXEL_INPUT, parseInfer, parseJson, splitBody, type ParsedInfer } from './tensors.js';

export const EXTENSIONS = ['binary_tensor_data', 'classification', 'model_repository', 'graft_classify'];

export interface OipContext {
  repo: ModelRepository;
  maxImages: number;
  maxPixels: number;
  bodyLimit: number;
  /** False while the server drains. */
  accepting: () => boolean;
}

type ModelParams = { name: string; version?: string };

/** The $metadata_model_response of a served model, with Graft's own details under `graft`. */
export function modelMetadata(m: ServedModel) {
  const [h, w] = m.manifest.inputSize;
  return {
    name: m.name,
    versions: [m.version],
    platform: 'onnxruntime_onnx',
    inputs: [
      { name: PIXEL_INPUT, datatype: 'FP32', shape: [-1, h, w, 3] },
      { name: IMAGE_INPUT, datatype: 'BYTES', shape: [-1] },
    ],
    outputs: [{ name: OUTPUT, datatype: 'FP32', shape: [-1, m.manifest.classes.length] }],
    graft: {
      note: `Send exactly one input: "${PIXEL_INPUT}" (FP32 or UINT8 raw RGB 0..255, NHWC at ${h}x${w}) or "${IMAGE_INPUT}" (encoded images: base64 strings in JSON, or binary tensor data).`,
      classes: m.manifest.classes,
      inputSize: m.manifest.inputSize,
      resize: m.manifest.resize,
      backbone: m.manifest.backbone.name,
      onnx: { input: m.runner.inputName, output: m.runner.outputName },
      graftVersion: m.manifest.graftVersion,
    },
  };
}

export async function registerOip(app: FastifyInstance, ctx: OipContext): Promise<void> {
  const { repo } = ctx;
  app.get('/v2', async () => ({ name: 'graft', version: GRAFT_VERSION, extensions: EXTENSIONS }));
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => {
    const names = repo.names();
    const ready = ctx.accepting() && names.length > 0 && names.every((n) => repo.ready(repo.get(n)));
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  const meta = async (req: FastifyRequest<{ Params: ModelParams }>) => modelMetadata(repo.get(req.params.name, req.params.version));
  app.get('/v2/models/:name', meta);
  app.get('/v2/models/:name/versions/:version', meta);
  const ready = async (req: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const m = repo.get(req.params.name, req.params.version);
    const ok = repo.ready(m);
    return reply.code(ok ? 200 : 503).send({ name: m.name, ready: ok });
  };
  app.get('/v2/models/:name/ready', ready);
  app.get('/v2/models/:name/versions/:version/ready', ready);

  // Inference bodies are read as bytes whatever their content type: JSON, or JSON + binary tails.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ctx.bodyLimit }, (_req, body, done) => done(null, body));
    const infer = async (req: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
      const lease = repo.acquire(req.params.name, req.params.version);
      try {
        return await runInfer(req, reply, lease.model, ctx);
      } finally {
        lease.release();
      }
    };
    scope.post('/v2/models/:name/infer', infer);
    scope.post('/v2/models/:name/versions/:version/infer', infer);
  });
}

async function runInfer(req: FastifyRequest, reply: FastifyReply, m: ServedModel, ctx: OipContext) {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const headerLength = req.headers['inference-header-content-length'];
  const { json, tail } = splitBody(body, Array.isArray(headerLength) ? headerLength[0] : headerLength);
  const parsed = parseInfer(parseJson(json), tail, {
    inputSize: m.manifest.inputSize,
    maxImages: ctx.maxImages,
    pixelNames: [PIXEL_INPUT, m.runner.inputName],
    outputNames: [OUTPUT, m.runner.outputName],
  });
  let probs: Float32Array;
  let n: number;
  if (parsed.input.kind === 'images') {
    const { images, name } = parsed.input;
    probs = await classifyImages(m, images.map((bytes, i) => ({ bytes, label: `inputs[0] "${name}" element ${i}` })), ctx.maxPixels);
    n = images.length;
  } else {
    probs = await m.batcher.submit(parsed.input.x, parsed.input.n);
    n = parsed.input.n;
  }
  return sendInferResponse(reply, m, parsed, probs, n);
}

function sendInferResponse(reply: FastifyReply, m: ServedModel, p: ParsedInfer, probs: Float32Array, n: number) {
  const classes = m.manifest.classes;
  const head: Record<string, unknown> = { model_name: m.name, model_version: m.version };
  if (p.id !== undefined) head.id = p.id;
  let out: { name: string; datatype: string; shape: number[]; parameters?: Record<string, unknown>; data?: unknown[] };
  let bin: Buffer | undefined;
  if (p.classification !== undefined) {
    const k = Math.min(p.classification, classes.length);
    const strings: string[] = [];
    for (let i = 0; i < n; i++) for (const t of topK(probs, i, classes, k)) strings.push(`${t.probability}:${t.index}:${t.label}`);
    out = { name: OUTPUT, datatype: 'BYTES', shape: [n, k] };
    if (p.binaryOutput) {
      bin = Buffer.concat(strings.flatMap((s) => {
        const b = Buffer.from(s, 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(b.length);
        return [len, b];
      }));
    } else out.data = strings;
  } else {
    out = { name: OUTPUT, datatype: 'FP32', shape: [n, classes.length] };
    if (p.binaryOutput) bin = Buffer.from(probs.buffer, probs.byteOffset, probs.byteLength);
    else out.data = Array.from(probs);
  }
  if (bin) out.parameters = { binary_data_size: bin.length };
  head.outputs = [out];
  if (!bin) return reply.send(head);
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  return reply.header('content-type', 'application/octet-stream').header('inference-header-content-length', String(json.length)).send(Buffer.concat([json, bin]));
}

/** Request parameters of a model route, for checks that run before the body is read. */
export function routeModel(req: FastifyRequest): string | undefined {
  const p = req.params as Partial<ModelParams> & { spec?: string } | undefined;
  if (p?.name) return p.name;
  if (p?.spec) return p.spec.split(':')[0];
  return undefined;
}

