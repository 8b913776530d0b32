import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrFind, lrFindSvg, suggest } from '../../src/train/lr-find.js';
import type { BatchSource } from '../../src/train/fit.js';
import { initTf, tf } from '../../src/engine/tfjs/backend.js';
import { fit, validate } from '../../src/train/fit.js';
import { constant } from '../../src/train/schedules.js';

/** Three Gaussian blobs in 2-D: a real, tiny, learnable problem. */
function blobs(n: number, seed = 1): { x: Float32Array; y: Int32Array } {
  let s = seed;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const centres = [[2, 0], [-1, 1.7], [-1, -1.7]];
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    // Overlapping blobs: with separable ones the loss only falls towards 0 and never blows up.
    x[2 * i] = centres[y[i]][0] + 1.5 * gauss();
    x[2 * i + 1] = centres[y[i]][1] + 1.5 * gauss();
  }
  return { x, y };
}

function source(d: { x: Float32Array; y: Int32Array }, batch: number): BatchSource {
  const n = d.y.length;
  return {
    size: Math.ceil(n / batch),
    async *batches() {
      for (let i = 0; i < n; i += batch) {
        const m = Math.min(batch, n - i);
        yield { x: d.x.slice(2 * i, 2 * (i + m)), xShape: [m, 2], y: d.y.slice(i, i + m) };
      }
    },
  };
}

test('suggest: valley, steepest descent and min/10 on a synthetic loss curve', () => {
  // flat, then falling between 1e-4 and 1e-2, then blowing up
  const lrs = Array.from({ length: 61 }, (_, i) => 10 ** (-6 + i / 10));
  const losses = lrs.map((lr) => {
    const l = Math.log10(lr);
    return l < -4 ? 2 : l < -2 ? 2 - 0.75 * (l + 4) : 0.5 + 3 * (l + 2) ** 2;
  });
  const r = suggest(lrs, losses);
  assert.equal(r.suggestion, r.suggestions.valley);
  assert.ok(r.suggestions.valley > 1e-4 && r.suggestions.valley < 1e-2, `valley ${r.suggestions.valley}`);
  assert.ok(r.suggestions.steep > 1e-4 && r.suggestions.steep <= 1e-2, `steep ${r.suggestions.steep}`);
  assert.ok(Math.abs(r.suggestions.minDiv10 - 1e-3) / 1e-3 < 1e-9, `min/10 ${r.suggestions.minDiv10}`);
});

test('lrFind on a small real problem: suggestion inside the sweep, weights restored, SVG drawn', async (t) => {
  let createTfjsEngine: typeof import('../../src/engine/tfjs/engine.js').createTfjsEngine;
  try {
    ({ createTfjsEngine } = await import('../../src/engine/tfjs/engine.js'));
  } catch (e) {
    // The TF.js engine is another module; fail loudly rather than pass without it.
    throw new Error(`src/engine/tfjs/engine.ts is needed for this test: ${(e as Error).message}`);
  }
  await initTf();
  const model = tf.sequential({
    layers: [
      // Seeded initialisers: the divergence check must not depend on the draw.
      tf.layers.dense({ inputShape: [2], units: 16, activation: 'relu', name: 'hidden', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'predictions', kernelInitializer: tf.initializers.glorotUniform({ seed: 101 }) }),
    ],
  });
  const opts = { optimizer: { type: 'sgd' as const, lr: 0.01, momentum: 0.9 }, seed: 0 };
  const engine = await createTfjsEngine(model, opts);
  t.after(() => model.dispose());
  const data = source(blobs(96), 16);
  const before = engine.getWeights().map((w) => w.slice());
  const r = await lrFind(engine, data, { minLr: 1e-5, maxLr: 100, steps: 80 });

  assert.equal(r.lrs.length, r.losses.length);
  assert.ok(r.lrs.length >= 10);
  assert.ok(Math.abs(r.lrs[0] - 1e-5) < 1e-12);
  for (let i = 1; i < r.lrs.length; i++) assert.ok(r.lrs[i] > r.lrs[i - 1], 'exponential sweep grows');
  assert.ok(r.diverged, `SGD at lr up to 100 should diverge (ran ${r.lrs.length} steps)`);
  assert.ok(r.lrs.length < 80, 'stopped early on divergence');
  for (const s of [r.suggestion, r.suggestions.steep, r.suggestions.minDiv10 * 10]) {
    assert.ok(s >= r.lrs[0] && s <= r.lrs.at(-1)!, `suggestion ${s} inside the sweep`);
  }
  // The loss must actually have fallen somewhere before the blow-up.
  assert.ok(Math.min(...r.losses) < r.losses[0] * 0.9, `loss fell: ${r.losses[0]} → ${Math.min(...r.losses)}`);

  const after = engine.getWeights();
  assert.equal(after.length, before.length);
  after.forEach((w, i) => assert.deepEqual(Array.from(w), Array.from(before[i]), `weight ${i} restored`));

  const svg = lrFindSvg(r);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), 'standalone SVG');
  assert.ok(svg.includes('<path d="M'));
  assert.ok(svg.includes('valley'));
  assert.ok(!svg.includes('NaN'));

  // The suggestion trains: a fresh engine (clean momentum) on the restored weights, 3 epochs.
  engine.dispose();
  const fresh = await createTfjsEngine(model, opts);
  const start = await validate(fresh, data);
  const h = await fit(fresh, { train: data, val: data }, { epochs: 3, schedule: constant(r.suggestion) });
  fresh.dispose();
  t.diagnostic(`sweep ${r.lrs.length} steps, valley ${r.suggestion.toExponential(2)}, val loss ${start.valLoss.toFixed(3)} → ${h.epochs[2].valLoss!.toFixed(3)}`);
  assert.ok(h.epochs[2].valLoss! < start.valLoss * 0.95, `val loss ${start.valLoss} → ${h.epochs[2].valLoss} at lr ${r.suggestion}`);
});

test('lrFind validates its options', async () => {
  const fake = { getWeights: () => [], setWeights: () => {} } as never;
  await assert.rejects(lrFind(fake, source(blobs(3), 3), { minLr: 1, maxLr: 0.1 }), /0 < minLr < maxLr\. Received: minLr=1, maxLr=0\.1/);
  await assert.rejects(lrFind(fake, source(blobs(3), 3), { steps: 2 }), /steps >= 5/);
});
