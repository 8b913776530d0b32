// Compares model-selection rules of the default recipe (heads/probe.ts) on the development sets,
// never on the benchmark's: images that bench:accuracy does not use (node scripts/build-accuracy-data.mjs --dev).
//
//   node --import tsx scripts/selection-study.ts [--data bench/.data/accuracy-dev] [--budgets 5,10,25,100] [--seeds 3] [--rules 0,2,6]
//
// For every set, budget and seed: a seeded per-class sample of the pool is the labelled data; each
// rule chooses a (cut, head) by cross-validation on it alone, the choice is refit on all of it and
// scored on the set's test images. The oracle is the best single cut's linear probe by mean test
// accuracy (it peeks at the test set). Features come from Graft's cache (GRAFT_HOME): one backbone
// pass per image for all candidate cuts, as `graft train` does.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { openBackbone, candidateCuts } from '../src/backbones/index.js';
import { cachedExtract } from '../src/features/cached.js';
import { loadImageFolder } from '../src/data/dataset.js';
import { selectProbe, fitChosenLinear, blockRows, type ProbeBlock, type ProbeScore, type SelectOptions } from '../src/heads/probe.js';
import { fewShotHead, headOnlyModel } from '../src/heads/index.js';
import { Rng, deriveSeed } from '../src/data/rng.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const DATA = path.resolve(opt('--data', 'bench/.data/accuracy-dev'));
const BUDGETS = opt('--budgets', '5,10,25,100').split(',').map(Number);
const SEEDS = Number(opt('--seeds', '3'));

/** A rule: selection options, and optionally which score to take instead of the best. */
type Rule = { name: string; o: Omit<SelectOptions, 'seed'>; pick?: (scores: ProbeScore[], folds: number) => ProbeScore | undefined };
const ALL_RULES: Rule[] = [
  { name: 'current (linear+prototype, best pair)', o: {} },
  { name: '+ 3 CV rounds', o: { repeats: 3 } },
  { name: '+ ensemble candidate', o: { ensemble: true } },
  { name: '+ ensemble, 3 rounds', o: { ensemble: true, repeats: 3 } },
  { name: '+ knn candidate', o: { heads: ['linear', 'prototype', 'knn'] } },
  { name: 'ensemble, knn, 3 rounds', o: { ensemble: true, repeats: 3, heads: ['linear', 'prototype', 'knn'] } },
  { name: 'always the all-cut ensemble', o: { ensemble: true }, pick: (s) => s.find((x) => x.combine === 'ensemble') },
  { name: 'always the best single linear cut', o: { concat: false, heads: ['linear'] } },
  { name: '3 rounds, no pair', o: { repeats: 3, concat: false } },
  { name: '5 rounds', o: { repeats: 5 } },
  { name: '3 rounds, always the all-cut ensemble', o: { ensemble: true, repeats: 3 }, pick: (s) => s.find((x) => x.combine === 'ensemble') },
  { name: '3 rounds, ensemble unless beaten by > 1 SE', o: { ensemble: true, repeats: 3 }, pick: oneSe },
  { name: '1 round, ensemble unless beaten by > 1 SE', o: { ensemble: true }, pick: oneSe },
];

/** The ensemble unless the best candidate beats it by more than one standard error of its mean. */
function oneSe(s: ProbeScore[], folds: number): ProbeScore | undefined {
  const ens = s.find((x) => x.combine === 'ensemble');
  const best = s.reduce((a, b) => (b.accuracy > a.accuracy + 1e-9 ? b : a));
  return ens && ens.accuracy >= best.accuracy - best.sd / Math.sqrt(folds) ? ens : best;
}
const only = opt('--rules', '');
const RULES = only ? only.split(',').map((i) => ALL_RULES[Number(i)]!) : ALL_RULES.slice(0, 6);

function split(data: Float32Array, n: number, dims: number[], names: string[]): ProbeBlock[] {
  const total = dims.reduce((a, b) => a + b, 0);
  let off = 0;
  return names.map((name, c) => {
    const d = dims[c]!;
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) out.set(data.subarray(i * total + off, i * total + off + d), i * d);
    off += d;
    return { name, dims: d, data: out };
  });
}

/** Test accuracy of the chosen configuration refit on the labelled rows. */
async function testAccuracy(train: ProbeBlock[], y: Int32Array, test: ProbeBlock[], yt: Int32Array, k: number, chosen: ProbeScore): Promise<number> {
  const cols = (bs: ProbeBlock[], n: number) => {
    const picked = bs.filter((b) => chosen.cuts.includes(b.name));
    const d = picked.reduce((a, b) => a + b.dims, 0);
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      let o = 0;
      for (const b of picked) {
        out.set(b.data.subarray(i * b.dims, (i + 1) * b.dims), i * d + o);
        o += b.dims;
      }
    }
    return { data: out, d };
  };
  const X = cols(test, yt.length);
  let probs: Float32Array;
  if (chosen.head === 'linear') {
    const h = await fitChosenLinear(train, y, k, chosen);
    probs = new Float32Array(yt.length * k);
    for (let i = 0; i < yt.length; i++) {
      for (let c = 0; c < k; c++) {
        let z = h.bias[c]!;
        for (let j = 0; j < h.dims; j++) z += X.data[i * h.dims + j]! * h.kernel[j * k + c]!;
        probs[i * k + c] = z;
      }
    }
  } else {
    const tr = cols(train, y.length);
    const head = headOnlyModel(fewShotHead(chosen.head, { data: tr.data, shape: [tr.d], labels: y, paths: [] }, k));
    probs = tf.tidy(() => (head.predict(tf.tensor2d(X.data, [yt.length, X.d])) as tf.Tensor).dataSync() as Float32Array);
  }
  let right = 0;
  for (let i = 0; i < yt.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c]! > probs[i * k + best]!) best = c;
    if (best === yt[i]) right++;
  }
  return right / yt.length;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

async function main(): Promise<void> {
  const sets = fs.readdirSync(DATA).filter((d) => fs.existsSync(path.join(DATA, d, 'pool')));
  const bb = await openBackbone('mobilenet_v2', {});
  const cuts = candidateCuts(bb.spec!);
  const m = bb.pooledAt!(cuts, 'avg');
  const dims = cuts.map((_, i) => m.getLayer(`graft_cut_pool_${i}`).outputShape[1] as number);
  const ex = bb.extractor({ frozen: m });
  const key = bb.cacheKey(`${cuts.join(',')}+avgpool`);
  const gaps: Record<string, number[]> = {};
  for (const set of sets) {
    const pool = await loadImageFolder(path.join(DATA, set, 'pool'));
    const test = await loadImageFolder(path.join(DATA, set, 'test'));
    const k = pool.classes.length;
    const all = [...pool.items, ...test.items];
    const r = await cachedExtract(ex, all, key, {});
    const blocks = split(r.features.data, all.length, dims, cuts);
    const np = pool.items.length;
    const testRows = Array.from({ length: test.items.length }, (_, i) => np + i);
    const yAll = r.features.labels;
    const yt = Int32Array.from(testRows, (i) => yAll[i]!);
    const testBlocks = blocks.map((b) => blockRows(b, testRows));
    const byClass = Array.from({ length: k }, (_, c) => [...Array(np).keys()].filter((i) => yAll[i] === c));
    console.log(`\n## ${set}: ${k} classes, pool ${np}, test ${yt.length}`);
    for (const budget of BUDGETS) {
      if (byClass.some((rows) => rows.length < budget)) continue;
      const res: Record<string, number[]> = {};
      const perCut: Record<string, number[]> = {};
      for (let seed = 0; seed < SEEDS; seed++) {
        const rows = byClass.flatMap((rs, c) => new Rng(deriveSeed(seed, 'study', set, c)).shuffle([...rs]).slice(0, budget)).sort((a, b) => a - b);
        const y = Int32Array.from(rows, (i) => yAll[i]!);
        const tr = blocks.map((b) => blockRows(b, rows));
        for (const c of cuts) {
          const sel = await selectProbe(tr.filter((b) => b.name === c), y, k, { seed, heads: ['linear'], concat: false });
          (perCut[c] ??= []).push(await testAccuracy(tr, y, testBlocks, yt, k, sel.chosen));
        }
        for (const rule of RULES) {
          const sel = await selectProbe(tr, y, k, { seed, ...rule.o });
          const chosen = rule.pick?.(sel.scores, sel.folds) ?? sel.chosen;
          (res[rule.name] ??= []).push(await testAccuracy(tr, y, testBlocks, yt, k, chosen));
        }
      }
      const oracle = Math.max(...Object.values(perCut).map(mean));
      const line = RULES.map((rule) => {
        const a = mean(res[rule.name]!);
        (gaps[rule.name] ??= []).push(a - oracle);
        return `${(a * 100).toFixed(1)}`;
      });
      console.log(`${set} b${budget}: oracle ${(oracle * 100).toFixed(1)} | ${line.join(' | ')}`);
    }
  }
  console.log('\nmean gap to the oracle, points (rows: set × budget):');
  for (const rule of RULES) console.log(`  ${rule.name.padEnd(40)} ${(mean(gaps[rule.name]!) * 100).toFixed(2)}  (worst ${(Math.min(...gaps[rule.name]!) * 100).toFixed(1)})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
