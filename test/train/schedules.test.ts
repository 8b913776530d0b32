import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constant, cosine, oneCycle, progress } from '../../src/train/schedules.js';
import { GraftError } from '../../src/errors.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('progress runs 0 → 1 over the steps and clamps', () => {
  assert.equal(progress(0, 11), 0);
  assert.equal(progress(5, 11), 0.5);
  assert.equal(progress(10, 11), 1);
  assert.equal(progress(99, 11), 1);
  assert.equal(progress(0, 1), 0);
});

test('constant', () => {
  const s = constant(3e-4);
  assert.equal(s(0, 10), 3e-4);
  assert.equal(s(9, 10), 3e-4);
  assert.throws(() => constant(0), GraftError);
  assert.throws(() => constant(NaN), /lr must be a finite number > 0/);
});

test('cosine without warm-up: max at 0, midpoint half-way, min at the end', () => {
  const s = cosine(1e-2, { minLr: 1e-4 });
  close(s(0, 101), 1e-2);
  close(s(50, 101), (1e-2 + 1e-4) / 2);
  close(s(100, 101), 1e-4);
  close(s(25, 101), 1e-4 + (1e-2 - 1e-4) * (1 + Math.cos(Math.PI / 4)) / 2);
});

test('cosine with warm-up: linear ramp to the peak, then anneal to 0', () => {
  const s = cosine(1e-3, { warmupSteps: 10 });
  close(s(0, 110), 1e-4);
  close(s(4, 110), 5e-4);
  close(s(9, 110), 1e-3);
  close(s(59, 110), 5e-4); // half-way through the 100 annealing steps after the peak
  close(s(109, 110), 0);
  for (let i = 1; i < 10; i++) assert.ok(s(i, 110) > s(i - 1, 110));
  for (let i = 10; i < 110; i++) assert.ok(s(i, 110) <= s(i - 1, 110));
  // warmupPct is a fraction of all steps
  close(cosine(1e-3, { warmupPct: 0.1 })(9, 100), 1e-3);
  assert.throws(() => cosine(1e-3, { minLr: 1 }), /minLr must be in \[0, maxLr\]/);
  assert.throws(() => cosine(1e-3, { warmupPct: 1.5 }), /warmupPct must be in \[0, 1\)/);
});

test('one-cycle matches fastai: max/div → max at pct_start → max/div_final', () => {
  const s = oneCycle(1e-3);
  close(s(0, 101), 1e-3 / 25);
  close(s(25, 101), 1e-3);
  close(s(100, 101), 1e-3 / 1e5);
  // half-way through the warm-up phase: cosine mid-point of start and max
  close(s(12.5, 101), (1e-3 / 25 + 1e-3) / 2);
  // half-way through the annealing phase (pct 0.625)
  close(s(62.5, 101), (1e-3 + 1e-8) / 2);
  let peak = 0;
  for (let i = 0; i < 101; i++) if (s(i, 101) > s(peak, 101)) peak = i;
  assert.equal(peak, 25);
  const t = oneCycle(0.1, { pctStart: 0.5, divFactor: 10, finalDivFactor: 100 });
  close(t(0, 11), 0.01);
  close(t(5, 11), 0.1);
  close(t(10, 11), 0.001);
  assert.throws(() => oneCycle(1e-3, { divFactor: 0.5 }), /divFactor must be >= 1/);
});
