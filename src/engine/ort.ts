import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { env } from '../env.js';
import { GraftError } from '../errors.js';
import { atomicWrite } from '../io/atomic.js';
import { withLock } from '../io/lock.js';
import type { PreprocessMode } from '../zoo/types.js';
import { cutOnnx, decodeOnnx, type Layout, onnxInfo } from './onnx/backbone.js';
import { EXPORTER_VERSION, exportOnnx, modelTensors, resolveOutputs } from './onnx/export.js';
import { verifyAgainstTf } from './onnx/verify.js';

/**
 * An onnxruntime session with Graft's settings: `env.threads` intra-op threads, one inter-op
 * thread (the graph is a chain), all graph optimisations.
 *
 * @example
 * const s = await createSession('/tmp/model.onnx');
 */
export function createSession(src: string | Uint8Array, threads = env.threads): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  // Two calls because create() is overloaded on path vs bytes.
  return typeof src === 'string' ? ort.InferenceSession.create(src, opts) : ort.InferenceSession.create(src, opts);
}

const sha256 = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');

/** The session of a cached compiled graph whose checksum holds, else undefined (the entry is removed). */
async function cachedSession(file: string, threads?: number): Promise<ort.InferenceSession | undefined> {
  if (!fs.existsSync(file)) return undefined;
  try {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const want = fs.readFileSync(`${file}.sha256`, 'utf8').trim();
    if (sha256(bytes) === want) return await createSession(bytes, threads);
  } catch {
    /* missing checksum, unreadable or unparsable: recompile */
  }
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.sha256`, { force: true });
  return undefined;
}

/**
 * Content hash of what an export depends on: exporter version, options, the model's topology
 * JSON and every weight. Equal hashes mean byte-equal ONNX graphs, so the hash names the cache file.
 */
export function layersModelHash(model: tf.LayersModel, opts: { cut?: string; preprocess?: PreprocessMode }): string {
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify({ exporter: EXPORTER_VERSION, cut: opts.cut ?? null, preprocess: opts.preprocess ?? 'none' }));
  h.update(model.toJSON(null, true) as string);
  for (const w of model.weights) {
    const d = w.read().dataSync() as Float32Array;
    h.update(w.name);
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

export interface FromLayersOptions {
  /** Layer name to cut at (its output becomes the backbone's output). Default: the model's output. */
  cut?: string;
  /** Preprocessing built into the graph, so `run` takes raw RGB in [0, 255]. Default 'none'. */
  preprocess?: PreprocessMode;
  /** Folder of compiled graphs. Default `<env.home>/onnx`. */
  cacheDir?: string;
  /** On a cache miss, check one random image against TF.js before caching. Default true. */
  verify?: boolean;
  /** Intra-op threads. Default env.threads. */
  threads?: number;
}

export interface FromOnnxOptions {
  /** Name of a graph value to cut at (a node output). Default: the model's first output. */
  output?: string;
  /** Layout of the image input when it cannot be told from the shape. */
  inputLayout?: Layout;
  /** Layout of rank-4 values inside the graph (default: Graft metadata, else the input layout). */
  outputLayout?: Layout;
  /** [h, w, 3] when the file leaves height/width symbolic. */
  inputShape?: [number, number, number];
  threads?: number;
}

/**
 * A frozen feature extractor run by onnxruntime. It takes NHWC float32 images like TF.js and
 * returns NHWC (rank-4) or [n, d] features, whatever the layout inside the graph.
 *
 * @example
 * const bb = await FrozenBackbone.fromLayersModel(mobilenet, { cut: 'out_relu', preprocess: 'tf' });
 * const feats = await bb.run(pixels, 16);   // pixels: 16*224*224*3 raw RGB; feats: 16*7*7*1280
 * bb.dispose();
 */
export class FrozenBackbone {
  /** Reused NCHW staging buffer for graphs that take NCHW input. */
  private staging = new Float32Array(0);

  private constructor(
    private session: ort.InferenceSession,
    /** [h, w, 3] of one image. */
    readonly inputShape: [number, number, number],
    /** Shape of one sample's features: [h, w, c] or [d]. */
    readonly outputShape: number[],
    /** sha256 of the graph (the cache key for exported models). */
    readonly hash: string,
    private readonly inputLayout: Layout,
    /** Whether rank-4 outputs come back NCHW and are transposed to NHWC by `run`. */
    readonly outputNchw: boolean,
    /** The .onnx file the session was built from, when there is one. */
    readonly file?: string,
  ) {}

  /**
   * Exports `model` (cut at `cut`) to ONNX, or reuses `<cacheDir>/<hash>.onnx` when the same
   * topology and weights were exported before.
   */
  static async fromLayersModel(model: tf.LayersModel, opts: FromLayersOptions = {}): Promise<FrozenBackbone> {
    const inShape = model.inputs[0]?.shape;
    if (model.inputs.length !== 1 || inShape.length !== 4 || inShape.slice(1).some((d) => d == null)) {
      throw new GraftError('E_ONNX_INPUT', `A frozen backbone needs one image input with a fixed size; model "${model.name}" has inputs ${JSON.stringify(model.inputs.map((i) => i.shape))}.`, 'Build the model with inputShape: [h, w, 3].');
    }
    const [outT] = resolveOutputs(model, modelTensors(model), opts.cut ? [opts.cut] : undefined) as unknown as tf.SymbolicTensor[];
    const hash = layersModelHash(model, opts);
    const file = path.join(opts.cacheDir ?? path.join(env.home, 'onnx'), `${hash}.onnx`);
    // A cached graph is used only when its bytes match the checksum written beside it; a damaged
    // or unverifiable one is compiled again (and the new one verified against TF.js).
    // One process compiles a given graph at a time; another sharing GRAFT_HOME waits and reuses it.
    const session = await withLock(`${file}.lock`, async () => {
      const cached = await cachedSession(file, opts.threads);
      if (cached) return cached;
      const bytes = exportOnnx(model, { outputs: opts.cut ? [opts.cut] : undefined, preprocess: opts.preprocess });
      const fresh = await createSession(bytes, opts.threads);
      if (opts.verify ?? true) await verifyAgainstTf(model, [outT], opts.preprocess ?? 'none', fresh, ort);
      await atomicWrite(file, bytes);
      await atomicWrite(`${file}.sha256`, sha256(bytes) + '\n');
      return fresh;
    });
    const outShape = outT.shape.slice(1) as number[];
    return new FrozenBackbone(session, inShape.slice(1) as [number, number, number], outShape, hash, 'NHWC', false, file);
  }

  /**
   * A user's ONNX model as a frozen backbone, optionally cut at a named value.
   *
   * @example
   * const bb = await FrozenBackbone.fromOnnxFile('resnet50.onnx', { output: '/layer4/layer4.2/relu_2/Relu_output_0' });
   */
  static async fromOnnxFile(file: string, opts: FromOnnxOptions = {}): Promise<FrozenBackbone> {
    if (!fs.existsSync(file)) throw new GraftError('E_ONNX_READ', `ONNX file not found. Received: ${JSON.stringify(file)}.`);
    const raw = new Uint8Array(fs.readFileSync(file));
    const proto = decodeOnnx(raw);
    const info = onnxInfo(proto, opts.inputLayout);
    const bytes = opts.output ? cutOnnx(proto, opts.output) : raw;
    const session = await createSession(bytes, opts.threads);
    const d = info.inputDims;
    const fileShape = (info.inputLayout === 'NCHW' ? [d[2], d[3], d[1]] : [d[1], d[2], d[3]]) as (number | null)[];
    const inputShape = opts.inputShape ?? fileShape;
    if (inputShape.some((v) => v == null)) {
      throw new GraftError('E_ONNX_INPUT', `Input "${info.inputName}" of ${file} has a symbolic size ${JSON.stringify(d)}.`, 'Pass inputShape: [h, w, 3].');
    }
    const hash = crypto.createHash('sha256').update(bytes).digest('hex');
    // Graft-exported graphs run NCHW inside but transpose their declared outputs back to NHWC;
    // only a cut at an internal value sees the internal layout.
    const graftGraph = (proto.metadataProps ?? []).some((p) => p.key === 'graft.layout');
    const declared = !opts.output || info.outputNames.includes(opts.output);
    const layout = opts.outputLayout ?? (graftGraph && declared ? 'NHWC' : info.internalLayout);
    // Probe one zero image: the only reliable way to learn the cut's shape without shape inference.
    const probe = new FrozenBackbone(session, inputShape as [number, number, number], [], hash, info.inputLayout, false, file);
    const dims = await probe.rawDims();
    const outputShape = dims.length === 4 && layout === 'NCHW' ? [dims[2], dims[3], dims[1]] : dims.slice(1);
    return new FrozenBackbone(session, inputShape as [number, number, number], outputShape, hash, info.inputLayout, dims.length === 4 && layout === 'NCHW', file);
  }

  private feed(x: Float32Array, n: number): ort.Tensor {
    const [h, w, c] = this.inputShape;
    const len = n * h * w * c;
    if (!Number.isInteger(n) || n < 1 || x.length < len) {
      throw new GraftError('E_BATCH_SHAPE', `run(x, n) needs x.length >= n*h*w*c = ${n}*${h}*${w}*${c}. Received: x.length=${x.length}, n=${n}.`);
    }
    const src = x.length === len ? x : x.subarray(0, len);
    if (this.inputLayout === 'NHWC') return new ort.Tensor('float32', src, [n, h, w, c]);
    if (this.staging.length < len) this.staging = new Float32Array(len);
    const dst = this.staging;
    const hw = h * w;
    for (let b = 0; b < n; b++) {
      const o = b * len / n;
      for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) dst[o + k * hw + p] = src[o + p * c + k];
    }
    return new ort.Tensor('float32', dst.subarray(0, len), [n, c, h, w]);
  }

  private async rawDims(): Promise<number[]> {
    const [h, w, c] = this.inputShape;
    const out = await this.session.run({ [this.session.inputNames[0]]: this.feed(new Float32Array(h * w * c), 1) });
    return (out[this.session.outputNames[0]].dims as readonly number[]).slice();
  }

  /**
   * Features for `n` NHWC images packed in `x` (n*h*w*3 floats; a longer buffer is fine).
   * Returns n*prod(outputShape) floats, NHWC for rank-4 features.
   */
  async run(x: Float32Array, n: number): Promise<Float32Array> {
    const res = await this.session.run({ [this.session.inputNames[0]]: this.feed(x, n) });
    const t = res[this.session.outputNames[0]];
    const data = t.data as Float32Array;
    if (!this.outputNchw) return data;
    const [, c, h, w] = t.dims as readonly number[];
    const out = new Float32Array(data.length);
    const hw = h * w;
    for (let b = 0; b < n; b++) {
      const o = b * c * hw;
      for (let k = 0; k < c; k++) for (let p = 0; p < hw; p++) out[o + p * c + k] = data[o + k * hw + p];
    }
    return out;
  }

  /** Releases the native session. */
  dispose(): void {
    void this.session.release();
  }
}
