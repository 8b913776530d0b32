import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { learningCurve, parseBudgets, sampleBudget, CURVE_METHODS } from '../../src/workflow/curve.js';
import { renderCurveHtml } from '../../src/workflow/curve-html.js';
import type { DatasetItem } from '../../src/data/dataset.js';
import { makeDataset, tmpDir } from '../workflow/fixtures.js';

test('budgets parse; samples are per class, seeded and nested', () => {
  assert.deepEqual(parseBudgets('1, 5,all'), [1, 5, 'all']);
  assert.throws(() => parseBudgets('1,0'), /positive integers or "all"/);
  assert.throws(() => parseBudgets('five'), /Received: "five"/);
  const pool: DatasetItem[] = Array.from({ length: 30 }, (_, i) => ({ path: `p${i}`, label: i % 3 }));
  const s1 = sampleBudget(pool, 3, 2, 7);
  const s5 = sampleBudget(pool, 3, 5, 7);
  assert.deepEqual([0, 1, 2].map((c) => s1.filter((i) => i.label === c).length), [2, 2, 2]);
  assert.ok(s1.every((i) => s5.includes(i)), 'the 2-shot sample is inside the 5-shot sample');
  assert.deepEqual(sampleBudget(pool, 3, 5, 7), s5, 'same seed, same sample');
  assert.notDeepEqual(sampleBudget(pool, 3, 5, 8), s5, 'another seed, another sample');
  assert.equal(sampleBudget(pool, 3, 'all', 1).length, 30);
});

test('learning curve on a tiny set: every method, JSON shape and HTML plot', async () => {
  const ds = makeDataset({ classes: ['Trouser', 'Bag', 'Sneaker'], perClass: 6, test: 5 });
  const cache = tmpDir('graft-curve-cache-');
  const r = await learningCurve({ train: ds.train, test: ds.test, budgets: [1, 3], seeds: 1, epochs: 1, fineTuneEpochs: 1, scratchEpochs: 1, minSteps: 2, scratchSize: 32, cacheDir: cache });
  assert.deepEqual(r.classes, ['Bag', 'Sneaker', 'Trouser']);
  assert.equal(r.testImages, 15);
  assert.equal(r.points.length, 2 * CURVE_METHODS.length);
  for (const p of r.points) {
    assert.ok(p.accuracy >= 0 && p.accuracy <= 1 && p.seconds >= 0, JSON.stringify(p));
    assert.equal(p.trainImages, 3 * p.labelsPerClass);
  }
  assert.equal(r.summary.length, 2 * CURVE_METHODS.length);
  const s = r.summary.find((x) => x.method === 'prototype' && x.budget === 3)!;
  assert.equal(s.runs, 1);
  assert.equal(s.sd, 0);
  // Trousers, bags and sneakers are far apart in any useful embedding: 3-shot prototypes beat chance.
  assert.ok(s.mean > 0.5, `prototype 3-shot accuracy ${s.mean}`);
  assert.ok(r.backbone.featureImages > 0);
  const html = renderCurveHtml(r);
  assert.match(html, /<svg[^>]*>/);
  assert.match(html, /<th>prototype<\/th>/);
  assert.doesNotMatch(html, /<script|https?:/);
  fs.writeFileSync(path.join(cache, 'curve.html'), html);
  const json = JSON.parse(JSON.stringify(r));
  assert.deepEqual(Object.keys(json.points[0]).sort(), ['accuracy', 'budget', 'labelsPerClass', 'method', 'seconds', 'seed', 'trainImages']);
});
