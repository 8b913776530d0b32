import { expandInputs } from '../data/inputs.js';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraftError } from '../errors.js';
import { env } from '../env.js';
import { readManifest, modelProblems, type GraftManifest } from '../io/manifest.js';
import { decodeImage } from '../data/decode.js';

export interface Prediction {
  path: string;
  /** Top classes, most probable first. */
  top: { label: string; index: number; probability: number }[];
  /** Full probability vector in class order. */
  probabilities: number[];
}

export interface PredictFailure {
  path: string;
  error: string;
}

/**
 * A trained model directory, served by onnxruntime from its `model.onnx` (preprocessing, network
 * and softmax in one graph, raw RGB in). Loading it does not start TF.js, so a cold `graft
 * predict` stays fast.
 *
 * @example
 * const clf = await Classifier.load('my-model');
 * const [p] = await clf.predictFiles(['cat.jpg']);
 * console.log(p.top[0].label);
 */
export class Classifier {
  private constructor(
    readonly manifest: GraftManifest,
    private session: ort.InferenceSession,
    private inputName: string,
    private outputName: string,
  ) {}

  static async load(dir: string, opts: { threads?: number } = {}): Promise<Classifier> {
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
    const c = new Classifier(manifest, session, session.inputNames[0]!, session.outputNames[0]!);
    // One blank image through the graph: the input size and the class count must be what graft.json says.
    let probs: Float32Array;
    try {
      probs = await c.predictPixels(new Uint8Array(manifest.inputSize[0] * manifest.inputSize[1] * 3), 1);
    } catch (e) {
      throw new GraftError('E_MODEL_DIR_MISMATCH', `${dir}: ${file} does not take graft.json's input size ${manifest.inputSize.join('×')}: ${(e as Error).message.split('\n')[0]}`, 'The directory was edited by hand or mixed from two models: train or export it again.');
    }
    const problems = modelProblems(manifest, [1, probs.length]);
    if (problems.length) throw new GraftError('E_MODEL_DIR_MISMATCH', `${dir}: graft.json and ${path.basename(file)} disagree:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'The directory was edited by hand or mixed from two models: train or export it again.');
    return c;
  }

  get classes(): string[] {
    return this.manifest.classes;
  }

  /** Probabilities for already-decoded RGB8 images (n*h*w*3 at the model's input size). */
  async predictPixels(rgb: Uint8Array, n: number): Promise<Float32Array> {
    const [h, w] = this.manifest.inputSize;
    const x = new Float32Array(n * h * w * 3);
    for (let i = 0; i < x.length; i++) x[i] = rgb[i]!;
    const out = await this.session.run({ [this.inputName]: new ort.Tensor('float32', x, [n, h, w, 3]) });
    return out[this.outputName]!.data as Float32Array;
  }

  /**
   * Classify image files (and every image inside given folders). Unreadable files come back in
   * `failed` with the reason; the others are classified.
   */
  async predictFiles(inputs: string[], opts: { top?: number; batchSize?: number } = {}): Promise<{ predictions: Prediction[]; failed: PredictFailure[] }> {
    const files = expandInputs(inputs);
    const [h, w] = this.manifest.inputSize;
    const k = Math.min(opts.top ?? 3, this.classes.length);
    const bs = opts.batchSize ?? 16;
    const predictions: Prediction[] = [];
    const failed: PredictFailure[] = [];
    for (let s = 0; s < files.missing.length; s++) failed.push({ path: files.missing[s]!, error: 'no such file or folder' });
    for (const k of files.skipped) failed.push({ path: k.path, error: k.reason });
    for (let s = 0; s < files.images.length; s += bs) {
      const chunk = files.images.slice(s, s + bs);
      const decoded = await Promise.all(chunk.map((p) => decodeImage(p, { size: [h, w], fit: this.manifest.resize })));
      const ok = decoded.filter((d) => d.ok);
      for (const d of decoded) if (!d.ok) failed.push({ path: d.path, error: d.reason });
      if (ok.length === 0) continue;
      const rgb = new Uint8Array(ok.length * h * w * 3);
      ok.forEach((d, i) => rgb.set((d as { data: Uint8Array }).data, i * h * w * 3));
      const probs = await this.predictPixels(rgb, ok.length);
      const c = this.classes.length;
      ok.forEach((d, i) => {
        const p = Array.from(probs.subarray(i * c, (i + 1) * c));
        const order = p.map((v, j) => j).sort((a, b) => p[b]! - p[a]!);
        predictions.push({
          path: d.path,
          top: order.slice(0, k).map((j) => ({ label: this.classes[j]!, index: j, probability: p[j]! })),
          probabilities: p,
        });
      });
    }
    return { predictions, failed };
  }

  dispose(): void {
    void this.session.release();
  }
}

