import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracy, argmaxRows, averageMetrics, confusionMatrix, evaluateProbs, mostConfused, perClassMetrics, topKAccuracy, worstLosses,
} from '../../src/evaluate/metrics.js';
import { GraftError } from '../../src/errors.js';

// Six hand-checked examples, three classes.
//   row            label  argmax
const probs = [
  0.7, 0.2, 0.1, //  0      0
  0.1, 0.6, 0.3, //  0      1
  0.2, 0.5, 0.3, //  1      1
  0.3, 0.3, 0.4, //  1      2
  0.1, 0.2, 0.7, //  2      2
  0.2, 0.5, 0.3, //  2      1
];
const labels = [0, 0, 1, 1, 2, 2];
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);

test('argmax, accuracy, top-k', () => {
  assert.deepEqual(Array.from(argmaxRows(probs, 3)), [0, 1, 1, 2, 2, 1]);
  assert.deepEqual(Array.from(argmaxRows([0.5, 0.5], 2)), [0], 'ties go to the first class');
  assert.equal(accuracy(probs, labels, 3), 0.5);
  // top-2 misses only row 1 (true class 0 has p=0.1, two classes above it)
  close(topKAccuracy(probs, labels, 3, 2), 5 / 6);
  assert.equal(topKAccuracy(probs, labels, 3, 3), 1);
  assert.equal(topKAccuracy(probs, labels, 3, 1), 0.5);
});

test('confusion matrix and per-class precision/recall/F1/support', () => {
  const cm = confusionMatrix(labels, argmaxRows(probs, 3), 3);
  assert.deepEqual(cm, [[1, 1, 0], [0, 1, 1], [0, 1, 1]]);
  const per = perClassMetrics(cm);
  close(per[0].precision, 1); close(per[0].recall, 0.5); close(per[0].f1, 2 / 3);
  close(per[1].precision, 1 / 3); close(per[1].recall, 0.5); close(per[1].f1, 0.4);
  close(per[2].precision, 0.5); close(per[2].recall, 0.5); close(per[2].f1, 0.5);
  assert.deepEqual(per.map((m) => [m.support, m.predicted]), [[2, 1], [2, 3], [2, 2]]);
  const { macro, weighted } = averageMetrics(per);
  close(macro.precision, (1 + 1 / 3 + 0.5) / 3);
  close(macro.recall, 0.5);
  close(macro.f1, (2 / 3 + 0.4 + 0.5) / 3);
  close(weighted.f1, macro.f1); // equal supports
});

test('averages: weighted by support; classes absent everywhere are left out of the macro mean', () => {
  // 4 classes; class 3 never occurs; class 0 has 3 examples, class 1 one, class 2 none but predicted once
  const cm = [[3, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]];
  const per = perClassMetrics(cm);
  assert.deepEqual(per.map((m) => m.f1), [1, 0, 0, 0]);
  const { macro, weighted } = averageMetrics(per);
  close(macro.f1, 1 / 3); // over classes 0, 1, 2
  close(weighted.f1, 0.75); // (1×3 + 0×1) / 4
});

test('most confused pairs, sorted by count then class', () => {
  assert.deepEqual(mostConfused([[5, 2, 0], [3, 4, 2], [0, 0, 9]]), [
    { actual: 1, predicted: 0, count: 3 },
    { actual: 0, predicted: 1, count: 2 },
    { actual: 1, predicted: 2, count: 2 },
  ]);
  assert.deepEqual(mostConfused([[5, 2, 0], [3, 4, 2], [0, 0, 9]], 3), [{ actual: 1, predicted: 0, count: 3 }]);
});

test('worst losses: highest cross-entropy first, ties by index', () => {
  const w = worstLosses(probs, labels, 3, 3);
  assert.deepEqual(w.map((e) => e.index), [1, 3, 5]);
  close(w[0].loss, -Math.log(0.1));
  assert.deepEqual([w[0].actual, w[0].predicted], [0, 1]);
  close(w[0].prob, 0.6);
  close(w[0].probActual, 0.1);
  assert.deepEqual([w[1].predicted], [2]);
  close(w[1].prob, 0.4);
  // p = 0 is clipped like Keras (1e-7), so the loss stays finite
  close(worstLosses([0, 1], [0], 2, 1)[0].loss, -Math.log(1e-7));
});

test('evaluateProbs bundles everything', () => {
  const ev = evaluateProbs(probs, labels, 3, { topK: [2, 5], worst: 2 });
  assert.equal(ev.n, 6);
  assert.equal(ev.accuracy, 0.5);
  assert.deepEqual(ev.topK.map((t) => t.k), [2], 'k >= classes is skipped');
  close(ev.loss, -(Math.log(0.7) * 2 + Math.log(0.1) + Math.log(0.5) + Math.log(0.3) * 2) / 6);
  assert.equal(ev.worst.length, 2);
  assert.equal(ev.mostConfused.length, 3);
  assert.deepEqual(ev.confusion, [[1, 1, 0], [0, 1, 1], [0, 1, 1]]);
});

test('bad input is rejected with the rule and the received values', () => {
  assert.throws(() => accuracy([0.5, 0.5, 1], [0, 1], 2), (e: unknown) => e instanceof GraftError && /probs.length=3, labels.length=2, numClasses=2/.test(e.message));
  assert.throws(() => accuracy([0.5, 0.5], [2], 2), /Labels must be integers in \[0, 2\)\. Received: labels\[0\]=2/);
  assert.throws(() => topKAccuracy(probs, labels, 3, 0), /k must be an integer >= 1/);
});
