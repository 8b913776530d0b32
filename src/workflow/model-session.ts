import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraftError } from '../errors.js';
import { env } from '../env.js';
import { readManifest, modelProblems, type GraftManifest } from '../io/manifest.js';

/**
 * One onnxruntime session over a model directory's `model.onnx`, taking float32 NHWC pixels
 * (raw 0..255 values: preprocessing is inside the graph), checked when opened: the file is there
 * and loads, it takes graft.json's input size, and its output width is graft.json's class count.
 * `Classifier` (predict.ts) and `graft serve` both open models through it, so they give the same
 * numbers; it takes float32 directly (OIP clients may send FP32 tensors that are not whole numbers).
 *
 * @example
 * const s = await openModelSession('my-model');
 * const probs = await s.run(new Float32Array(224 * 224 * 3), 1);
 */
export interface ModelSession {
  manifest: GraftManifest;
  inputName: string;
  outputName: string;
  run(x: Float32Array, n: number): Promise<Float32Array>;
  release(): Promise<void>;
}

export async function openModelSession(dir: string, opts: { threads?: number } = {}): Promise<ModelSession> {
  const manifest = readManifest(dir);
  const file = path.join(dir, manifest.files.onnx ?? 'model.onnx');
  if (!fs.existsSync(file)) {
    throw new GraftError('E_NO_ONNX', `${dir} has no ONNX model (${file}).`, `Run \`graft export ${dir} --format onnx --out ${dir}\` to add one.`);
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { intraOpNumThreads: opts.threads ?? env.threads, graphOptimizationLevel: 'all' });
  } catch (e) {
    throw new GraftError('E_MODEL_DIR_DAMAGED', `${file} cannot be loaded: ${(e as Error).message.split('\n')[0]}`, 'The model directory is incomplete or damaged (a truncated model.onnx?): train or export it again.');
  }
  const [h, w] = manifest.inputSize;
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const run = async (x: Float32Array, n: number): Promise<Float32Array> => {
    const out = await session.run({ [inputName]: new ort.Tensor('float32', x, [n, h, w, 3]) });
    return out[outputName]!.data as Float32Array;
  };
  let probs: Float32Array;
  try {
    probs = await run(new Float32Array(h * w * 3), 1);
  } catch (e) {
    throw new GraftError('E_MODEL_DIR_MISMATCH', `${dir}: ${file} does not take graft.json's input size ${manifest.inputSize.join('×')}: ${(e as Error).message.split('\n')[0]}`, 'The directory was edited by hand or mixed from two models: train or export it again.');
  }
  const problems = modelProblems(manifest, [1, probs.length]);
  if (problems.length) throw new GraftError('E_MODEL_DIR_MISMATCH', `${dir}: graft.json and ${path.basename(file)} disagree:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'The directory was edited by hand or mixed from two models: train or export it again.');
  return { manifest, inputName, outputName, run, release: () => session.release() };
}
