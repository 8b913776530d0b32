// One studio training run, in its own process so the server never blocks: trainClassifier with
// the defaults of `graft train` (the settings' backbone and input size), into a staging folder
// outside the project (Graft refuses to write a model inside the data it reads), then an
// evaluation of the new model on every labelled image for the Inspect page. Every GraftEvent is
// sent to the parent; the last message is { done } or { error }.
import fs from 'node:fs';
import path from 'node:path';
import { trainClassifier } from '../workflow/train.js';
import { Classifier } from '../workflow/predict.js';
import { evaluateProbs } from '../evaluate/metrics.js';
import type { StudioModelSettings } from './settings.js';

interface Job {
  data: string;
  out: string;
  settings: StudioModelSettings;
  images: { path: string; label: string }[];
  /** The Advanced fold's options (checked by the server against the train options schema). */
  advanced: Record<string, unknown>;
}

const job = JSON.parse(process.argv[2]!) as Job;
const send = (m: unknown) => process.send!(m);

try {
  const s = job.settings;
  const r = await trainClassifier({ data: job.data, out: job.out, backbone: s.backbone, weights: s.weights, inputSize: s.inputSize, cacheDir: s.cacheDir, quiet: true, ...job.advanced }, (e) => send({ event: e }));
  send({ event: { type: 'stage', message: 'Checking the new model on every labelled image' } });
  const clf = await Classifier.load(job.out);
  const { predictions } = await clf.predictFiles(job.images.map((i) => i.path), { top: 1 });
  clf.dispose();
  const labelOf = new Map(job.images.map((i) => [path.resolve(i.path), i.label]));
  const k = clf.classes.length;
  const rows = predictions.filter((p) => clf.classes.includes(labelOf.get(path.resolve(p.path))!));
  const probs = new Float32Array(rows.length * k);
  const labels = new Int32Array(rows.length);
  rows.forEach((p, i) => {
    probs.set(p.probabilities, i * k);
    labels[i] = clf.classes.indexOf(labelOf.get(path.resolve(p.path))!);
  });
  const ev = evaluateProbs(probs, labels, k);
  const images = rows.map((p, i) => ({ path: p.path, actual: labels[i]!, predicted: p.top[0]!.index, probs: p.probabilities }));
  fs.writeFileSync(path.join(path.dirname(job.out), 'inspect.json'), JSON.stringify({ classes: clf.classes, heldOut: { accuracy: r.evaluation.accuracy, split: r.manifest.metrics }, fit: { accuracy: ev.accuracy, perClass: ev.perClass, confusion: ev.confusion, macro: ev.macro }, images }));
  send({ done: { accuracy: r.evaluation.accuracy, seconds: r.seconds } });
} catch (e) {
  send({ error: (e as Error).message });
}
process.disconnect?.();
