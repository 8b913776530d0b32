// Re-measures the "MobileNetV2 from scratch" learning-curve row of RESULTS.md (after the
// precise-BN fix), with the same data, budgets and settings as scripts/results-curves.ts.
//   npx tsx scripts/results-curves.ts --out /tmp/graft-results --only curves   (builds /tmp/graft-results/fm)
//   npx tsx scripts/results-scratch.ts [/tmp/graft-results]
import path from 'node:path';
import { learningCurve } from '../src/workflow/curve.js';

const OUT = process.argv[2] ?? '/tmp/graft-results';
const FM = path.join(OUT, 'fm');
const r = await learningCurve({
  train: path.join(FM, 'train'),
  test: path.join(FM, 'test'),
  budgets: [1, 5, 10, 25],
  seeds: 1,
  methods: ['scratch'],
  scratchEpochs: 5,
  minSteps: 60,
  cacheDir: path.join(OUT, 'cache'),
});
for (const s of r.summary) console.log(`RESULT ${s.method} budget=${s.budget} acc=${(s.mean * 100).toFixed(1)} seconds=${s.seconds.toFixed(1)}`);
