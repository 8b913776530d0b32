import path from 'node:path';
import { loadDataset, alignClasses } from '../data/dataset.js';
import { evaluateProbs } from '../evaluate/metrics.js';
import { atomicWrite } from '../io/atomic.js';
import { checkFileOut } from '../io/out-target.js';
import { Classifier } from './predict.js';
import { buildReport } from '../io/model-dir.js';
import { loadModelDir } from '../io/model-dir.js';

export interface EvalResult {
  accuracy: number;
  count: number;
  loss: number;
  topK: { k: number; accuracy: number }[];
  perClass: { class: string; precision: number; recall: number; f1: number; support: number }[];
  macro: { precision: number; recall: number; f1: number };
  /** confusion[actual][predicted] */
  confusion: number[][];
  classes: string[];
  mostConfused: { actual: string; predicted: string; count: number }[];
  skipped: { path: string; reason: string }[];
}

/**
 * Evaluate a model directory on a labelled folder or manifest (classes matched by name; a class
 * the model does not know is an error). Runs on onnxruntime through `model.onnx`.
 *
 * @example
 * const r = await evaluateModelDir('my-model', 'photos/test');
 * console.log(r.accuracy, r.perClass);
 */
export async function evaluateModelDir(modelDir: string, data: string, opts: { report?: string; force?: boolean; allowOutside?: boolean } = {}): Promise<EvalResult> {
  if (opts.report) checkFileOut(opts.report, { force: opts.force, protect: [modelDir, data], flag: '--report' });
  const clf = await Classifier.load(modelDir);
  try {
    const ds = alignClasses(loadDataset(data, { minClasses: 1, allowOutside: opts.allowOutside }), clf.classes, 'evaluation');
    const byPath = new Map(ds.items.map((i) => [path.resolve(i.path), i.label]));
    const { predictions, failed } = await clf.predictFiles(ds.items.map((i) => i.path), { top: 1 });
    const k = clf.classes.length;
    const probs = new Float32Array(predictions.length * k);
    const labels = new Int32Array(predictions.length);
    predictions.forEach((p, i) => {
      probs.set(p.probabilities, i * k);
      labels[i] = byPath.get(path.resolve(p.path))!;
    });
    const ev = evaluateProbs(probs, labels, k);
    const skipped = [...ds.skipped, ...failed.map((f) => ({ path: f.path, reason: f.error }))];
    if (opts.report) {
      const { model, manifest } = await loadModelDir(modelDir);
      const html = await buildReport({
        model,
        manifest: { ...manifest, metrics: { ...manifest.metrics, split: `evaluation on ${data}` }, dataset: { ...manifest.dataset, skipped } },
        evaluation: ev,
        history: manifest.history as never,
        evalPaths: predictions.map((p) => p.path),
      });
      await atomicWrite(opts.report, html);
      model.dispose();
    }
    return {
      accuracy: ev.accuracy,
      count: ev.n,
      loss: ev.loss,
      topK: ev.topK,
      perClass: ev.perClass.map((c) => ({ class: clf.classes[c.cls]!, precision: c.precision, recall: c.recall, f1: c.f1, support: c.support })),
      macro: ev.macro,
      confusion: ev.confusion,
      classes: clf.classes,
      mostConfused: ev.mostConfused.map((m) => ({ actual: clf.classes[m.actual]!, predicted: clf.classes[m.predicted]!, count: m.count })),
      skipped,
    };
  } finally {
    clf.dispose();
  }
}
