import { expandInputs } from '../data/inputs.js';
import type { GraftManifest } from '../io/manifest.js';
import { decodeImage } from '../data/decode.js';
import { openModelSession, type ModelSession } from './model-session.js';

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
    private session: ModelSession,
  ) {}

  static async load(dir: string, opts: { threads?: number } = {}): Promise<Classifier> {
    const s = await openModelSession(dir, opts);
    return new Classifier(s.manifest, s);
  }

  get classes(): string[] {
    return this.manifest.classes;
  }

  /** Probabilities for already-decoded RGB8 images (n*h*w*3 at the model's input size). */
  async predictPixels(rgb: Uint8Array, n: number): Promise<Float32Array> {
    const [h, w] = this.manifest.inputSize;
    const x = new Float32Array(n * h * w * 3);
    for (let i = 0; i < x.length; i++) x[i] = rgb[i]!;
    return this.session.run(x, n);
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

