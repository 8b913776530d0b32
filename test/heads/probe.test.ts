import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitLogistic, logisticLossGrad, logisticProbs } from '../../src/heads/logistic.js';
import { ortLossGrad } from '../../src/heads/logistic-ort.js';
import { cholesky, columnStats, gram, solveRight, standardise } from '../../src/heads/gram.js';
import { selectProbe, stratifiedFolds, fitLinearHead, fitChosenLinear, heldOutProbs } from '../../src/heads/probe.js';
import { rand } from '../helpers/rand.js';

/** Root of a strictly decreasing function on (lo, hi) by bisection (the 1-D optimality condition). */
function bisect(f: (a: number) => number, lo: number, hi: number): number {
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) > 0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

test('logistic solver: a tiny separable problem matches its closed-form optimality condition', async () => {
  // x = +1 is class 1, x = −1 is class 0. By symmetry b = 0 and W = [−a, a]; the objective
  // log(1 + e^(−2a)) + λa² is minimal where λa = 1 / (1 + e^(2a)).
  const Z = Float64Array.from([1, -1]);
  const y = Int32Array.from([1, 0]);
  for (const lambda of [1, 0.1, 0.01]) {
    const fit = await fitLogistic(Z, 2, 1, y, 2, lambda, { tol: 1e-10, maxIter: 2000 });
    const a = bisect((t) => 1 / (1 + Math.exp(2 * t)) - lambda * t, 0, 100);
    assert.ok(fit.converged);
    assert.ok(Math.abs(fit.W[1]! - a) < 1e-6 && Math.abs(fit.W[0]! + a) < 1e-6, `λ=${lambda}: W ${Array.from(fit.W)} vs ±${a}`);
    assert.ok(Math.abs(fit.b[0]! - fit.b[1]!) < 1e-6, 'no bias between symmetric classes');
  }
});

test('logistic solver: a tiny non-separable problem reaches the unregularised optimum', async () => {
  // At x = +1: two of class 1, one of class 0; at x = −1 the reverse. The best probability of
  // class 1 at x = +1 is 2/3, so the logit gap (W₁ − W₀)·1 is ln 2.
  const Z = Float64Array.from([1, 1, 1, -1, -1, -1]);
  const y = Int32Array.from([1, 1, 0, 0, 0, 1]);
  const fit = await fitLogistic(Z, 6, 1, y, 2, 1e-9, { tol: 1e-10, maxIter: 2000 });
  const gap = fit.W[1]! - fit.W[0]!;
  assert.ok(Math.abs(gap - Math.log(2)) < 1e-5, `logit gap ${gap} vs ln 2`);
  const p = logisticProbs(Float64Array.from([1]), 1, 1, fit, 2);
  assert.ok(Math.abs(p[1]! - 2 / 3) < 1e-5);
});

test('logistic gradient: analytic equals finite differences; onnxruntime evaluator equals the JS one', async () => {
  const n = 12, d = 5, k = 3;
  const Z = Float64Array.from(rand(n * d, 3));
  const y = Int32Array.from({ length: n }, (_, i) => i % k);
  const theta = Float64Array.from(rand(d * k + k, 4));
  const g = new Float64Array(theta.length);
  const f = logisticLossGrad(Z, n, d, y, k, 0.3, theta, g);
  const tmp = new Float64Array(theta.length);
  for (let q = 0; q < theta.length; q++) {
    const t1 = theta.slice();
    const t2 = theta.slice();
    t1[q]! += 1e-6;
    t2[q]! -= 1e-6;
    const fd = (logisticLossGrad(Z, n, d, y, k, 0.3, t1, tmp) - logisticLossGrad(Z, n, d, y, k, 0.3, t2, tmp)) / 2e-6;
    assert.ok(Math.abs(fd - g[q]!) < 1e-6, `param ${q}: ${fd} vs ${g[q]}`);
  }
  const ev = await ortLossGrad(Z, n, d, y, k);
  const g2 = new Float64Array(theta.length);
  const f2 = await ev(theta, 0.3, g2);
  assert.ok(Math.abs(f2 - f) < 1e-5, `loss ${f2} vs ${f}`);
  for (let q = 0; q < theta.length; q++) assert.ok(Math.abs(g2[q]! - g[q]!) < 1e-5);
});

test('Cholesky coordinates keep inner products: a held-out row lands where the model sees it', () => {
  const n = 6, d = 20;
  const Z = Float64Array.from(rand(n * d, 5));
  const L = cholesky(gram(Z, n, Z, n, d), n);
  const again = gram(L, n, L, n, n);
  const G = gram(Z, n, Z, n, d);
  for (let i = 0; i < n * n; i++) assert.ok(Math.abs(again[i]! - G[i]!) < 1e-9);
  const v = Float64Array.from(rand(d, 6));
  const c = solveRight(gram(v, 1, Z, n, d), 1, L, n);
  const dots = gram(c, 1, L, n, n);
  const direct = gram(v, 1, Z, n, d);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(dots[i]! - direct[i]!) < 1e-9);
});

test('cross-validation folds are stratified, disjoint, complete and seeded', () => {
  const y = Int32Array.from({ length: 23 }, (_, i) => (i < 10 ? 0 : i < 18 ? 1 : 2));
  const f = stratifiedFolds(y, 3, 5, 7);
  assert.equal(f.length, 5);
  assert.deepEqual(f.flat().sort((a, b) => a - b), [...y.keys()]);
  for (const fold of f) {
    const per = [0, 1, 2].map((c) => fold.filter((i) => y[i] === c).length);
    assert.ok(per[0] === 2 && per[1]! >= 1 && per[1]! <= 2 && per[2]! === 1, `fold classes ${per}`);
  }
  assert.deepEqual(stratifiedFolds(y, 3, 5, 7), f, 'same seed, same folds');
  assert.notDeepEqual(stratifiedFolds(y, 3, 5, 8), f, 'another seed, other folds');
});

/** Three candidate blocks of which only `good` carries the class signal. */
function planted(good: number, n = 60, k = 3) {
  const y = Int32Array.from({ length: n }, (_, i) => i % k);
  const blocks = [0, 1, 2].map((b) => {
    const dims = 8;
    const data = rand(n * dims, 100 + b);
    if (b === good) for (let i = 0; i < n; i++) data[i * dims + y[i]!]! += 1.2;
    return { name: `cut_${b}`, dims, data };
  });
  return { y, blocks, k };
}

test('the cut search finds the planted best layer, and a seeded selection repeats', async () => {
  for (const good of [0, 2]) {
    const { y, blocks, k } = planted(good);
    const sel = await selectProbe(blocks, y, k, { seed: 1 });
    assert.equal(sel.protocol, 'cv');
    assert.ok(sel.chosen.cuts.includes(`cut_${good}`), `chose ${sel.chosen.cuts} for planted cut_${good}`);
    assert.ok(sel.chosen.accuracy > 0.8, `cv accuracy ${sel.chosen.accuracy}`);
    const again = await selectProbe(blocks, y, k, { seed: 1 });
    assert.deepEqual(again, sel);
  }
});

test('a time budget bounds the cut search: past the deadline only the backbone\'s own cut is scored, and it says so', async () => {
  const { y, blocks, k } = planted(0);
  const late = await selectProbe(blocks, y, k, { seed: 1, deadline: Date.now() - 1 });
  assert.deepEqual([...new Set(late.scores.map((s) => s.cuts.join('+')))], ['cut_2'], 'one candidate (the last, the default cut), no concatenation');
  assert.match(late.note, /time budget reached after 1 of 3 candidate cuts/);
  // A deadline far away changes nothing: the same selection as without one.
  const roomy = await selectProbe(blocks, y, k, { seed: 1, deadline: Date.now() + 3600_000 });
  assert.deepEqual(roomy, await selectProbe(blocks, y, k, { seed: 1 }));
});

test('the refit head with standardisation folded in predicts raw features like the standardised fit', async () => {
  const { y, blocks, k } = planted(1);
  const b = blocks[1]!;
  const n = y.length;
  const h = await fitLinearHead([b], y, k, 1);
  assert.ok(h.converged);
  // Raw rows through the folded kernel vs standardised rows through a fresh fit at the same C.
  const Z = standardise(b.data, n, b.dims, columnStats(b.data, n, b.dims));
  const ref = await fitLogistic(Z, n, b.dims, y, k, 1 / n, { maxIter: 1000 });
  const refP = logisticProbs(Z, n, b.dims, ref, k);
  const raw = Float64Array.from(b.data);
  const p = logisticProbs(raw, n, b.dims, { W: Float64Array.from(h.kernel), b: Float64Array.from(h.bias) }, k);
  for (let i = 0; i < n * k; i++) assert.ok(Math.abs(p[i]! - refP[i]!) < 1e-4, `row ${Math.floor(i / k)}: ${p[i]} vs ${refP[i]}`);
  const oof = await heldOutProbs(blocks, y, k, { cuts: ['cut_1'], head: 'linear', accuracy: 1, sd: 0, C: 1 }, { seed: 1 });
  assert.equal(oof!.rows.length, n, 'every row is held out once');
});

test('repeated CV: rounds have their own seeded folds, the first is the single round\'s, and every round holds each row out once', () => {
  const y = Int32Array.from({ length: 30 }, (_, i) => i % 3);
  assert.deepEqual(stratifiedFolds(y, 3, 5, 7, 0), stratifiedFolds(y, 3, 5, 7));
  const r1 = stratifiedFolds(y, 3, 5, 7, 1);
  assert.notDeepEqual(r1, stratifiedFolds(y, 3, 5, 7));
  assert.deepEqual(r1.flat().sort((a, b) => a - b), [...y.keys()]);
});

test('the all-cut ensemble: scored on every split, preferred within one standard error, exported as one Dense whose probabilities are the averaged log-probabilities', async () => {
  // Every cut carries the same weak signal: nothing beats the ensemble clearly, so it is chosen.
  const n = 60;
  const k = 3;
  const y = Int32Array.from({ length: n }, (_, i) => i % k);
  const blocks = [0, 1, 2].map((b) => {
    const data = rand(n * 8, 300 + b);
    for (let i = 0; i < n; i++) data[i * 8 + y[i]!]! += 0.9;
    return { name: `cut_${b}`, dims: 8, data };
  });
  const sel = await selectProbe(blocks, y, k, { seed: 1, ensemble: true, repeats: 3 });
  assert.equal(sel.rounds, 3);
  assert.equal(sel.folds, 15);
  const ens = sel.scores.find((s) => s.combine === 'ensemble')!;
  assert.deepEqual(ens.cuts, ['cut_0', 'cut_1', 'cut_2']);
  assert.equal(ens.Cs!.length, 3);
  const best = sel.scores.reduce((a, b) => (b.accuracy > a.accuracy + 1e-9 ? b : a));
  assert.deepEqual(sel.chosen, ens.accuracy >= best.accuracy - best.sd / Math.sqrt(15) ? ens : best);
  assert.deepEqual(await selectProbe(blocks, y, k, { seed: 1, ensemble: true, repeats: 3 }), sel, 'seeded: the same selection again');

  // The stacked Dense on the concatenated raw features gives softmax(mean of the members' log-probabilities).
  const h = await fitChosenLinear(blocks, y, k, ens);
  assert.equal(h.dims, 24);
  const members = await Promise.all(blocks.map((b, i) => fitLinearHead([b], y, k, ens.Cs![i]!)));
  const concat = new Float64Array(n * 24);
  for (let i = 0; i < n; i++) blocks.forEach((b, j) => concat.set(b.data.subarray(i * 8, i * 8 + 8), i * 24 + j * 8));
  const p = logisticProbs(concat, n, 24, { W: Float64Array.from(h.kernel), b: Float64Array.from(h.bias) }, k);
  for (let i = 0; i < n; i++) {
    const lp = [0, 0, 0];
    members.forEach((mh, j) => {
      const q = logisticProbs(Float64Array.from(blocks[j]!.data.subarray(i * 8, i * 8 + 8)), 1, 8, { W: Float64Array.from(mh.kernel), b: Float64Array.from(mh.bias) }, k);
      for (let c = 0; c < k; c++) lp[c]! += Math.log(q[c]!) / 3;
    });
    const z = lp.map(Math.exp);
    const s = z.reduce((a, b) => a + b, 0);
    for (let c = 0; c < k; c++) assert.ok(Math.abs(p[i * k + c]! - z[c]! / s) < 1e-5, `row ${i} class ${c}: ${p[i * k + c]} vs ${z[c]! / s}`);
  }
  const oof = await heldOutProbs(blocks, y, k, ens, { seed: 1, repeats: 3 });
  assert.equal(oof!.rows.length, n, 'out-of-fold probabilities from one round: every row once');

  // One cut clearly better than the rest: the ensemble is beaten by more than a standard error.
  const { y: y2, blocks: b2, k: k2 } = planted(2, 90);
  const sel2 = await selectProbe(b2, y2, k2, { seed: 1, ensemble: true, repeats: 3 });
  assert.notEqual(sel2.chosen.combine, 'ensemble', JSON.stringify(sel2.scores.map((s) => [s.cuts.join('+'), s.combine, s.accuracy.toFixed(3)])));
  assert.ok(sel2.chosen.cuts.includes('cut_2'));
});

test('the kNN candidate is scored by the same splits when asked for', async () => {
  const { y, blocks, k } = planted(0);
  const sel = await selectProbe(blocks, y, k, { seed: 1, heads: ['linear', 'prototype', 'knn'] });
  const knn = sel.scores.filter((s) => s.head === 'knn');
  assert.ok(knn.length >= 3, 'one kNN score per candidate');
  const good = knn.find((s) => s.cuts.length === 1 && s.cuts[0] === 'cut_0')!;
  const bad = knn.find((s) => s.cuts.length === 1 && s.cuts[0] === 'cut_1')!;
  assert.ok(good.accuracy > bad.accuracy + 0.2, `kNN at the planted cut ${good.accuracy} vs ${bad.accuracy}`);
});
