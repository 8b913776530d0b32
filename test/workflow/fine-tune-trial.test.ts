import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { trainClassifier } from '../../src/workflow/train.js';
import { evaluateModelDir } from '../../src/workflow/evaluate.js';
import { describeChoice } from '../../src/workflow/train-manifest.js';
import { AUTO_FINE_TUNE_MIN } from '../../src/recipes/fine-tune-cut.js';
import { DEMO, tmpDir } from './fixtures.js';

// 1,000 labelled images (the demo's 500 and their mirror images), where the default recipe tries
// fine-tuning from the chosen cut and keeps it only when it wins on the held-out split.
const root = tmpDir('graft-ft-trial-');
for (const split of ['train', 'test'] as const) {
  for (const c of fs.readdirSync(path.join(DEMO, split))) {
    const src = path.join(DEMO, split, c);
    const dst = path.join(root, split, c);
    fs.mkdirSync(dst, { recursive: true });
    for (const f of fs.readdirSync(src).filter((x) => x.endsWith('.png')).sort().slice(0, split === 'train' ? 50 : 5)) {
      fs.copyFileSync(path.join(src, f), path.join(dst, f));
      if (split === 'train') await sharp(path.join(src, f)).flop().png().toFile(path.join(dst, `flop-${f}`));
    }
  }
}
const cache = tmpDir('graft-ft-trial-cache-');
const base = { data: path.join(root, 'train'), test: path.join(root, 'test'), inputSize: 96, cacheDir: cache, quiet: true } as const;
const sha = (dir: string) => crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'weights.bin'))).digest('hex');

type Probe = { stage: string; chosen: { cuts: string[] }; fineTune: { tried: boolean; kept?: boolean; why: string; valAccuracy?: number; frozenValAccuracy?: number } };
type FineTune = { stage: string; from: string; blocks: string[]; cut: string; valAccuracy: number };

test(`from ${AUTO_FINE_TUNE_MIN} labelled images the default tries fine-tuning from the chosen cut; a losing trial leaves the frozen model exactly as without it, a winning one is the model`, async () => {
  const off = path.join(tmpDir(), 'off');
  const without = await trainClassifier({ ...base, out: off, fineTuneTrial: false });
  const p0 = (without.manifest.training.stages as Probe[]).find((s) => s.stage === 'probe')!;
  assert.deepEqual(p0.fineTune, { tried: false, why: '--no-fine-tune-trial' });
  assert.equal(without.history.length, 0);

  // A trial that cannot win: at a vanishing rate the network stays the single-cut probe it
  // started from, which never clears the bar (the best frozen score plus one standard error).
  const still = path.join(tmpDir(), 'still');
  const lost = await trainClassifier({ ...base, out: still, fineTuneLrFactor: 1e-7 });
  const stages = lost.manifest.training.stages as (Probe | FineTune)[];
  const p1 = stages.find((s) => s.stage === 'probe') as Probe;
  const f1 = stages.find((s) => s.stage === 'fine-tune') as FineTune;
  assert.equal(p1.fineTune.tried, true);
  assert.equal(p1.fineTune.kept, false);
  assert.match(p1.fineTune.why, /1000 labelled images/);
  assert.equal(f1.blocks.length, 2, 'two blocks below the cut trained');
  assert.equal(f1.blocks.at(-1), f1.from === 'out_relu' ? 'top' : f1.from, 'the top trained block is the cut\'s own');
  assert.ok(lost.history.length > 0, 'the trial\'s epochs are in the history');
  assert.match(describeChoice(lost.manifest), /fine-tuning was tried and lost/);
  // The rejected trial trained the backbone's own blocks: they are put back, byte for byte.
  assert.equal(sha(still), sha(off), 'the saved frozen model is the one written without a trial');
  assert.equal(lost.manifest.metrics.accuracy, without.manifest.metrics.accuracy);

  // The default rate: whatever the held-out split says decides, and the saved model follows it.
  const dflt = path.join(tmpDir(), 'default');
  const r = await trainClassifier({ ...base, out: dflt });
  const p2 = (r.manifest.training.stages as Probe[]).find((s) => s.stage === 'probe')!;
  assert.equal(p2.fineTune.tried, true);
  assert.ok(Number.isFinite(p2.fineTune.valAccuracy));
  if (p2.fineTune.kept) {
    assert.equal(r.manifest.head.kind, 'dense');
    assert.ok(!r.manifest.backbone.cut.includes('+'), 'fine-tuned from one cut');
    assert.ok(p2.fineTune.valAccuracy! > p2.fineTune.frozenValAccuracy!);
    assert.match(describeChoice(r.manifest), /fine-tuning .* won/);
  } else assert.equal(sha(dflt), sha(off));
  // The written ONNX pipeline reproduces the run's test accuracy either way.
  const ev = await evaluateModelDir(dflt, base.test);
  assert.ok(Math.abs(ev.accuracy - Number(r.manifest.metrics.accuracy)) < 1e-9, `onnx ${ev.accuracy} vs ${r.manifest.metrics.accuracy}`);
});
