import type * as tf from '@tensorflow/tfjs';
import { freeze } from '../transfer/freeze.js';
import { GraftError } from '../errors.js';
import { createEngine, type EngineKind } from '../engine/index.js';
import { fit } from '../train/fit.js';
import { constant } from '../train/schedules.js';
import { concatFeatures, featureSource, subsetFeatures, type FeatureSet } from '../features/feature-set.js';
import { predictTop } from './common.js';
import { argmaxRows } from '../evaluate/metrics.js';

/**
 * Self-training (pseudo-labelling): the model labels the target images it is confident about,
 * and the head is trained again on the labelled source plus those pseudo-labelled target
 * images; repeated for a few rounds, each with the improved head's predictions.
 *
 * Class-balanced: at most `perClass` images per predicted class are kept (the most confident), so
 * a class the shifted model over-predicts does not swamp the others — the usual failure of
 * naive self-training.
 */
export interface PseudoLabelOptions {
  /** Keep target predictions with top-1 probability ≥ this. Default 0.8. */
  threshold?: number;
  /** At most this many per predicted class. Default: target images / classes. */
  perClass?: number;
  /** Rounds of label → train. Default 3. */
  rounds?: number;
  /** Epochs over source + pseudo-labelled target per round. Default 5. */
  epochs?: number;
  lr?: number;
  batchSize?: number;
  seed?: number;
  /** Training engine (createEngine). Default 'ort'. */
  engine?: EngineKind;
}

export interface PseudoLabelRound {
  round: number;
  selected: number;
  perClass: number[];
  /** Mean top-1 probability of the target before this round's training. */
  meanConfidence: number;
  loss: number;
}


/** Indices of confident target rows, at most `perClass` per predicted class, most confident first. */
export function selectConfident(probs: Float32Array, k: number, threshold: number, perClass: number): { index: number[]; label: number[]; counts: number[] } {
  const n = probs.length / k;
  const pred = argmaxRows(probs, k);
  const byClass: { i: number; p: number }[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) {
    const p = probs[i * k + pred[i]!]!;
    if (p >= threshold) byClass[pred[i]!]!.push({ i, p });
  }
  const index: number[] = [];
  const label: number[] = [];
  const counts = byClass.map((list, c) => {
    const kept = list.sort((x, y) => y.p - x.p || x.i - y.i).slice(0, perClass);
    for (const e of kept) {
      index.push(e.i);
      label.push(c);
    }
    return kept.length;
  });
  return { index, label, counts };
}

/**
 * Self-train `top` (features → probabilities; trained in place) on labelled source features plus
 * confidently pseudo-labelled target features.
 *
 * @example
 * const rounds = await pseudoLabel(top, sourceFeatures, targetFeatures, { threshold: 0.8, rounds: 3 });
 */
export async function pseudoLabel(top: tf.LayersModel, source: FeatureSet, target: FeatureSet, o: PseudoLabelOptions = {}): Promise<PseudoLabelRound[]> {
  const threshold = o.threshold ?? 0.8;
  const rounds = o.rounds ?? 3;
  if (!(threshold >= 0 && threshold < 1)) throw new GraftError('E_PSEUDO_THRESHOLD', `The pseudo-label threshold must be in [0, 1). Received: threshold=${threshold}.`, 'E.g. 0.8.');
  if (!Number.isInteger(rounds) || rounds < 1) throw new GraftError('E_PSEUDO_ROUNDS', `Rounds must be an integer >= 1. Received: rounds=${rounds}.`);
  const k = (top.outputs[0]!.shape.at(-1) as number) ?? 2;
  const perClass = o.perClass ?? Math.max(1, Math.ceil(target.labels.length / k));
  const seed = o.seed ?? 42;
  freeze(top, { all: false });
  const out: PseudoLabelRound[] = [];
  for (let r = 0; r < rounds; r++) {
    const probs = predictTop(top, target);
    let conf = 0;
    for (let i = 0; i < target.labels.length; i++) {
      let m = 0;
      for (let j = 0; j < k; j++) m = Math.max(m, probs[i * k + j]!);
      conf += m;
    }
    const sel = selectConfident(probs, k, threshold, perClass);
    const pseudo = subsetFeatures(target, sel.index);
    pseudo.labels.set(sel.label);
    const train = concatFeatures(source, pseudo);
    const engine = await createEngine(o.engine ?? 'ort', top, { optimizer: { type: 'adam', lr: o.lr ?? 1e-3 }, trainBatchNormStats: false, seed: seed + r });
    try {
      const h = await fit(engine, { train: featureSource(train, { batchSize: o.batchSize ?? 32, shuffle: true, seed: seed + r }) }, { epochs: o.epochs ?? 5, schedule: constant(o.lr ?? 1e-3) });
      await engine.syncToModel();
      out.push({ round: r + 1, selected: sel.index.length, perClass: sel.counts, meanConfidence: target.labels.length ? conf / target.labels.length : 0, loss: h.epochs.at(-1)?.loss ?? NaN });
    } finally {
      engine.dispose();
    }
  }
  return out;
}
