// One studio training run, in its own process so the server never blocks: trainClassifier with
// the defaults of `graft train` (the settings' backbone and input size), into a staging folder
// outside the project (Graft refuses to write a model inside the data it reads), then the
// run's held-out predictions for the Inspect page. Every GraftEvent is
// sent to the parent; the last message is { done } or { error }.
import fs from 'node:fs';
import path from 'node:path';
import { trainClassifier } from '../workflow/train.js';
import { evaluateProbs } from '../evaluate/metrics.js';
import type { StudioModelSettings } from './settings.js';

interface Job {
  data: string;
  out: string;
  settings: StudioModelSettings;
  /** The Advanced fold's options (checked by the server against the train options schema). */
  advanced: Record<string, unknown>;
}

const job = JSON.parse(process.argv[2]!) as Job;
const send = (m: unknown) => process.send!(m);

try {
  const s = job.settings;
  const r = await trainClassifier({ data: job.data, out: job.out, backbone: s.backbone, weights: s.weights, inputSize: s.inputSize, cacheDir: s.cacheDir, quiet: true, ...job.advanced }, (e) => send({ event: e }));
  // Inspect shows held-out predictions: out of fold under cross-validation (every labelled image,
  // each predicted by a head that never saw it), else the validation split. Predicting the
  // labelled images with the final model would show the images it was fit on, nearly all right.
  const classes = r.manifest.classes;
  const k = classes.length;
  const h = r.predictions;
  const ev = evaluateProbs(h.probs, h.labels, k);
  const images = h.paths.map((p, i) => {
    const probs = Array.from(h.probs.subarray(i * k, (i + 1) * k));
    return { path: path.resolve(p), actual: h.labels[i]!, predicted: probs.indexOf(Math.max(...probs)), probs };
  });
  fs.writeFileSync(path.join(path.dirname(job.out), 'inspect.json'), JSON.stringify({ classes, heldOut: { accuracy: r.evaluation.accuracy, split: r.manifest.metrics }, fit: { basis: h.split, accuracy: ev.accuracy, perClass: ev.perClass, confusion: ev.confusion, macro: ev.macro }, images }));
  send({ done: { accuracy: r.evaluation.accuracy, seconds: r.seconds } });
} catch (e) {
  send({ error: (e as Error).message });
}
process.disconnect?.();
