import { GraftError } from '../errors.js';

/**
 * Classification metrics from class probabilities. Every function is pure and takes
 * `probs` row-major [n, classes] (as `engine.predict` returns) plus integer labels.
 */

export interface ClassMetrics {
  /** Class index. */
  cls: number;
  precision: number;
  recall: number;
  f1: number;
  /** True examples of this class. */
  support: number;
  /** Examples predicted as this class. */
  predicted: number;
}

export interface AverageMetrics {
  precision: number;
  recall: number;
  f1: number;
}

export interface ConfusedPair {
  actual: number;
  predicted: number;
  count: number;
}

export interface WorstExample {
  /** Row in the evaluated set. */
  index: number;
  actual: number;
  predicted: number;
  /** Cross-entropy of the true class: -ln(max(p_actual, 1e-7)). */
  loss: number;
  /** Probability given to the predicted class. */
  prob: number;
  /** Probability given to the true class. */
  probActual: number;
}

/** All of the above for one evaluated set; the evaluation section of a report. */
export interface Evaluation {
  n: number;
  numClasses: number;
  accuracy: number;
  /** Top-k accuracy for each requested k (k < numClasses only). */
  topK: { k: number; accuracy: number }[];
  /** Mean cross-entropy. */
  loss: number;
  /** confusion[actual][predicted] = count. */
  confusion: number[][];
  perClass: ClassMetrics[];
  macro: AverageMetrics;
  weighted: AverageMetrics;
  mostConfused: ConfusedPair[];
  worst: WorstExample[];
}

/** Keras clips probabilities to [1e-7, 1 - 1e-7] in its cross-entropy; match it. */
const EPS = 1e-7;

function check(probs: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new GraftError('E_BAD_METRIC_INPUT', `numClasses must be an integer >= 1. Received: numClasses=${numClasses}.`);
  }
  const n = labels.length;
  if (probs.length !== n * numClasses) {
    throw new GraftError(
      'E_BAD_METRIC_INPUT',
      `probs must hold labels.length × numClasses values. Received: probs.length=${probs.length}, labels.length=${n}, numClasses=${numClasses}.`,
    );
  }
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new GraftError('E_BAD_METRIC_INPUT', `Labels must be integers in [0, ${numClasses}). Received: labels[${i}]=${y}.`);
    }
  }
  return n;
}

/**
 * Index of each row's largest probability (the first on ties).
 *
 * @example
 * argmaxRows([0.1, 0.9, 0.7, 0.3], 2); // Int32Array [1, 0]
 */
export function argmaxRows(probs: ArrayLike<number>, numClasses: number): Int32Array {
  const n = Math.floor(probs.length / numClasses);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (probs[i * numClasses + c] > probs[i * numClasses + best]) best = c;
    out[i] = best;
  }
  return out;
}

/**
 * Fraction of rows whose argmax is the label.
 *
 * @example
 * accuracy([0.1, 0.9, 0.7, 0.3], [1, 1], 2); // 0.5
 */
export function accuracy(probs: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number {
  const n = check(probs, labels, numClasses);
  const pred = argmaxRows(probs, numClasses);
  let ok = 0;
  for (let i = 0; i < n; i++) if (pred[i] === labels[i]) ok++;
  return n ? ok / n : NaN;
}

/**
 * Fraction of rows where the true class is among the k most probable. Ties count in the
 * example's favour: a row is correct when fewer than k classes are strictly more probable.
 *
 * @example
 * topKAccuracy([0.5, 0.3, 0.2], [1], 3, 2); // 1
 */
export function topKAccuracy(probs: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number, k: number): number {
  const n = check(probs, labels, numClasses);
  if (!Number.isInteger(k) || k < 1) throw new GraftError('E_BAD_METRIC_INPUT', `k must be an integer >= 1. Received: k=${k}.`);
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const pTrue = probs[i * numClasses + labels[i]];
    let above = 0;
    for (let c = 0; c < numClasses; c++) if (probs[i * numClasses + c] > pTrue) above++;
    if (above < k) ok++;
  }
  return n ? ok / n : NaN;
}

/**
 * confusion[actual][predicted] = count.
 *
 * @example
 * confusionMatrix([0, 1, 1], [0, 0, 1], 2); // [[1, 0], [1, 1]]
 */
export function confusionMatrix(actual: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): number[][] {
  if (actual.length !== predicted.length) {
    throw new GraftError('E_BAD_METRIC_INPUT', `actual and predicted must have the same length. Received: ${actual.length} and ${predicted.length}.`);
  }
  const cm = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < actual.length; i++) cm[actual[i]][predicted[i]]++;
  return cm;
}

/**
 * Precision, recall, F1 and support per class from a confusion matrix. A ratio with a zero
 * denominator is 0 (scikit-learn's `zero_division=0`).
 *
 * @example
 * perClassMetrics([[1, 0], [1, 1]]); // class 0: precision 0.5, recall 1; class 1: precision 1, recall 0.5
 */
export function perClassMetrics(confusion: number[][]): ClassMetrics[] {
  const k = confusion.length;
  return confusion.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += confusion[r][c];
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { cls: c, precision, recall, f1, support, predicted };
  });
}

/**
 * Macro (unweighted mean) and support-weighted averages. As in scikit-learn, the macro mean is
 * taken over classes that occur in the labels or the predictions; absent classes are left out.
 */
export function averageMetrics(per: ClassMetrics[]): { macro: AverageMetrics; weighted: AverageMetrics } {
  const present = per.filter((m) => m.support > 0 || m.predicted > 0);
  const total = per.reduce((a, m) => a + m.support, 0);
  const mean = (f: (m: ClassMetrics) => number) => (present.length ? present.reduce((a, m) => a + f(m), 0) / present.length : 0);
  const wmean = (f: (m: ClassMetrics) => number) => (total ? per.reduce((a, m) => a + f(m) * m.support, 0) / total : 0);
  return {
    macro: { precision: mean((m) => m.precision), recall: mean((m) => m.recall), f1: mean((m) => m.f1) },
    weighted: { precision: wmean((m) => m.precision), recall: wmean((m) => m.recall), f1: wmean((m) => m.f1) },
  };
}

/**
 * Off-diagonal cells with at least `minCount` examples, most frequent first (ties: by actual,
 * then predicted class) — fastai's `most_confused`.
 *
 * @example
 * mostConfused([[5, 2], [3, 4]]); // [{actual: 1, predicted: 0, count: 3}, {actual: 0, predicted: 1, count: 2}]
 */
export function mostConfused(confusion: number[][], minCount = 1): ConfusedPair[] {
  const out: ConfusedPair[] = [];
  confusion.forEach((row, a) => row.forEach((count, p) => a !== p && count >= minCount && out.push({ actual: a, predicted: p, count })));
  return out.sort((x, y) => y.count - x.count || x.actual - y.actual || x.predicted - y.predicted);
}

/**
 * The `k` examples with the highest cross-entropy loss, highest first (ties: lower index first).
 *
 * @example
 * worstLosses([0.9, 0.1, 0.2, 0.8], [0, 0], 2, 1); // [{index: 1, actual: 0, predicted: 1, loss: 1.609, prob: 0.8, probActual: 0.2}]
 */
export function worstLosses(probs: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number, k: number): WorstExample[] {
  const n = check(probs, labels, numClasses);
  const pred = argmaxRows(probs, numClasses);
  const all: WorstExample[] = [];
  for (let i = 0; i < n; i++) {
    const probActual = probs[i * numClasses + labels[i]];
    const loss = -Math.log(Math.min(1 - EPS, Math.max(EPS, probActual)));
    all.push({ index: i, actual: labels[i], predicted: pred[i], loss, prob: probs[i * numClasses + pred[i]], probActual });
  }
  return all.sort((a, b) => b.loss - a.loss || a.index - b.index).slice(0, Math.max(0, k));
}

export interface EvaluateOptions {
  /** Top-k accuracies to report (default [5]; k >= numClasses is skipped as trivially 1). */
  topK?: number[];
  /** How many worst examples to keep (default 16). */
  worst?: number;
  /** Minimum count for a most-confused pair (default 1). */
  minConfused?: number;
}

/**
 * Every metric at once, ready for `renderReport`.
 *
 * @example
 * const probs = await engine.predict(x, xShape);
 * const ev = evaluateProbs(probs, labels, classes.length);
 * console.log(ev.accuracy, ev.macro.f1, ev.mostConfused[0]);
 */
export function evaluateProbs(probs: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number, opts: EvaluateOptions = {}): Evaluation {
  const n = check(probs, labels, numClasses);
  const pred = argmaxRows(probs, numClasses);
  const confusion = confusionMatrix(labels, pred, numClasses);
  const perClass = perClassMetrics(confusion);
  const worstAll = worstLosses(probs, labels, numClasses, n);
  let correct = 0;
  for (let i = 0; i < n; i++) if (pred[i] === labels[i]) correct++;
  return {
    n,
    numClasses,
    accuracy: n ? correct / n : NaN,
    topK: (opts.topK ?? [5]).filter((k) => k < numClasses).map((k) => ({ k, accuracy: topKAccuracy(probs, labels, numClasses, k) })),
    loss: n ? worstAll.reduce((a, w) => a + w.loss, 0) / n : NaN,
    confusion,
    perClass,
    ...averageMetrics(perClass),
    mostConfused: mostConfused(confusion, opts.minConfused ?? 1),
    worst: worstAll.slice(0, opts.worst ?? 16),
  };
}
