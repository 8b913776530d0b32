import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { candidateCuts, pooledAt, withGlobalPool } from '../backbones/index.js';
import { extractFeatures, type Extractor } from '../features/extract.js';
import type { DatasetItem } from '../data/dataset.js';
import { resolveAugment, augmentPixels, randomResizedCrop } from '../data/augment.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { concatFeatures, type FeatureSet } from '../features/feature-set.js';
import { HEAD_LAYER_NAMES } from '../transfer/head.js';
import { fewShotHead, buildHeadModel, headOnlyModel } from '../heads/index.js';
import { staticHeadEngine } from '../heads/static-engine.js';
import { selectProbe, fitChosenLinear, heldOutProbs, standardError, blockRows, type ProbeBlock, type ProbeScore, type ProbeSelection } from '../heads/probe.js';
import { fineTuneAtCut, AUTO_FINE_TUNE_BLOCKS, AUTO_FINE_TUNE_MIN } from './fine-tune-cut.js';
import type { RecipeContext, RecipeResult } from './context.js';

/** Up to this many labelled images, model selection cross-validates; above, a held-out split. */
export const CV_MAX = 600;

/**
 * The default recipe: a head on frozen features that is solved, not trained — the linear probe
 * (multinomial logistic regression with L2, L-BFGS to convergence, standardisation folded into
 * the Dense weights) or class prototypes, whichever validates better, at the backbone layer that
 * transfers best. Candidate cuts come out of one backbone pass; every (cut, head, L2) is scored
 * by stratified cross-validation on all labelled images (a held-out split above CV_MAX), and the
 * winner is refit on every labelled image: no label is spent on validation only.
 */
export async function probeRecipe(ctx: RecipeContext): Promise<RecipeResult> {
  const { o, data, bb } = ctx;
  const k = ctx.classes;
  const t0 = Date.now();
  // The cut search needs the architecture's blocks; an explicit --cut, an ONNX file or a Graft
  // model directory keep their one cut.
  const search = o.cut === undefined && bb.kind === 'zoo' && bb.spec !== undefined;
  const cuts = search ? candidateCuts(bb.spec!) : [bb.cut];
  const { extractor, dims } = candidates(ctx, cuts);
  const key = bb.cacheKey(cuts.length === 1 ? pooledAt(cuts[0]!, o.pooling) : `${cuts.join(',')}+${o.pooling}pool`);
  const labelled = [...data.train, ...data.val];
  ctx.say(search ? `Scoring ${cuts.length} cuts (${cuts.join(', ')}) × linear and prototype heads on ${labelled.length} labelled images` : `Scoring linear and prototype heads at ${cuts[0]} on ${labelled.length} labelled images`, 'stage');
  let rows = await ctx.extract(extractor, labelled, key, search ? 'backbone (candidate cuts)' : 'backbone train');
  const valPaths = new Set(data.val.map((i) => i.path));
  let holdout = rows.labels.length > CV_MAX ? rows.paths.flatMap((p, i) => (valPaths.has(p) ? [i] : [])) : undefined;
  let viewNote: string | undefined;
  const labelledRows = rows.labels.length;
  if (!holdout && minClassCount(rows.labels, k) < 2) {
    // One image in some class: nothing to cross-validate on. Augmented views of the labelled
    // images (flips, crops, small rotations, colour) stand in as the held-out rows — a cut whose
    // features keep an image's class under those changes is the one to read from — and then
    // The final head is fit on the originals only: flips and crops can change a class (a
    // mirrored digit), so views choose but do not teach.
    const views = await augmentedViews(ctx, extractor, labelled, VIEWS);
    holdout = views.labels.length ? Array.from(views.labels, (_, i) => rows.labels.length + i) : undefined;
    rows = concatFeatures(rows, views);
    viewNote = `${VIEWS} augmented views of each labelled image serve as validation (some class has one image); the head is then fit on the labelled images themselves`;
  }
  const bad = rows.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const d = rows.data.length / Math.max(1, rows.labels.length);
    throw new GraftError('E_NONFINITE_FEATURES', `The backbone gave a non-finite feature (${rows.data[bad]}) for ${rows.paths[Math.floor(bad / d)]}. No model was written.`, 'Check the backbone weights; a damaged feature cache is recomputed after deleting $GRAFT_HOME/features.');
  }
  const blocks = split(rows, cuts, dims);
  // With views standing in for held-out images, only the cut and the head kind are chosen on
  // them: they are too easy to choose an L2 strength, which stays at scikit-learn's default C = 1.
  const cGrid = viewNote ? [1] : undefined;
  // --head linear: only linear candidates (one cut, two, or the ensemble); auto: prototypes too.
  const heads = o.head === 'linear' ? (['linear'] as const) : undefined;
  const sel = await selectProbe(blocks, rows.labels, k, { seed: o.seed, holdout, cGrid, deadline: ctx.deadline, heads: heads && [...heads], ...SELECTION });
  if (viewNote) sel.note = viewNote;
  for (const line of summary(sel.scores)) ctx.say(line);
  const chosen = sel.chosen;
  const what = chosen.combine === 'ensemble' ? `the average of ${chosen.cuts.length} linear heads, one at each of ${chosen.cuts.join(', ')} (one Dense layer over their concatenated features)` : `${chosen.head} head at ${chosen.cuts.join(' + ')}`;
  ctx.say(`Chose ${what}${Number.isFinite(chosen.accuracy) ? `: ${sel.protocol === 'cv' ? 'cross-validated' : 'held-out'} accuracy ${(chosen.accuracy * 100).toFixed(1)}% ± ${(chosen.sd * 100).toFixed(1)}` : ''} (${sel.note})`, 'stage');

  const probeStage: Record<string, unknown> = { stage: 'probe', protocol: sel.protocol, folds: sel.folds, rounds: sel.rounds, note: sel.note, candidates: sel.scores, chosen };
  ctx.stages.push(probeStage);
  // Fine-tuning from the chosen cut, when the data is large enough to tell: kept only if it beats
  // the frozen head on the same held-out split.
  const why = fineTuneDecision(ctx, sel, labelledRows, holdout !== undefined && !viewNote);
  probeStage.fineTune = { tried: why.tried, why: why.reason };
  if (why.tried) {
    const single = why.single!;
    const held = new Set(holdout);
    const trainRows = [...rows.labels.keys()].filter((i) => !held.has(i));
    const init = await fitChosenLinear(blocks.map((b) => blockRows(b, trainRows)), Int32Array.from(trainRows, (i) => rows.labels[i]!), k, single);
    const ft = await fineTuneAtCut(ctx, single.cuts[0]!, AUTO_FINE_TUNE_BLOCKS, init);
    // The bar is the best frozen score on this split (the single cut it started from may be it,
    // and was picked on this split, so it is optimistic) plus one standard error: fine-tuning
    // costs far more to run and to serve, and must win clearly.
    const frozen = Math.max(chosen.accuracy, single.accuracy);
    const bar = frozen + standardError({ ...single, accuracy: frozen }, [{ val: holdout! }]);
    const kept = ft.valAccuracy > bar;
    const verdict = `held-out accuracy ${(ft.valAccuracy * 100).toFixed(1)}% fine-tuned vs ${(frozen * 100).toFixed(1)}% frozen (it must beat ${(bar * 100).toFixed(1)}%, one standard error more)`;
    probeStage.fineTune = { tried: true, kept, why: why.reason, valAccuracy: ft.valAccuracy, frozenValAccuracy: frozen, epochs: ft.epochs };
    ctx.say(kept ? `Kept the fine-tuned network: ${verdict}` : `Kept the frozen head: ${verdict}`, 'stage');
    if (kept) {
      const result = await ft.keep();
      probeStage.seconds = (Date.now() - t0) / 1000;
      return { ...result, metrics: { heldOut: { accuracy: ft.valAccuracy, sd: 0, folds: 1 } } };
    }
    ft.reject();
  } else ctx.say(`Fine-tuning not tried: ${why.reason}`);

  // The network: backbone → pooled features at the chosen cut(s) → the solved head.
  // Rows the final head is fit on: every labelled image (views, when there are any, only chose).
  const fitN = viewNote ? labelledRows : rows.labels.length;
  const fitRows: FeatureSet = { data: rows.data.subarray(0, fitN * (rows.data.length / Math.max(1, rows.labels.length))), shape: rows.shape, labels: rows.labels.subarray(0, fitN), paths: rows.paths.slice(0, fitN) };
  const picked = split(fitRows, cuts, dims).filter((b) => chosen.cuts.includes(b.name));
  const pickedRows = (f: FeatureSet) => columns(f, blocks, chosen.cuts);
  // ONNX backbones: their features, pooled in TF.js as the exported head sees them.
  const base = bb.pooledAt ? bb.pooledAt(chosen.cuts, o.pooling) : withGlobalPool(bb.base, o.pooling, HEAD_LAYER_NAMES.pool);
  let model: tf.LayersModel;
  let headModel: tf.LayersModel;
  let solver: Record<string, unknown> = {};
  if (chosen.head === 'linear') {
    const h = await fitChosenLinear(picked, fitRows.labels, k, chosen);
    const dense = tf.layers.dense({ units: k, activation: 'softmax', name: HEAD_LAYER_NAMES.predictions });
    model = tf.model({ inputs: base.inputs, outputs: dense.apply(base.outputs[0]!) as tf.SymbolicTensor, name: `${bb.name}_graft` });
    dense.setWeights([tf.tensor2d(h.kernel, [h.dims, k]), tf.tensor1d(h.bias)]);
    const input = tf.input({ shape: [h.dims] });
    headModel = tf.model({ inputs: input, outputs: dense.apply(input) as tf.SymbolicTensor });
    solver = { solver: 'L-BFGS', ...(chosen.combine ? { combine: chosen.combine, Cs: chosen.Cs } : { C: chosen.C }), iterations: h.iterations, converged: h.converged };
  } else {
    const fh = fewShotHead('prototype', pickedRows(fitRows), k);
    model = buildHeadModel(base, fh);
    headModel = headOnlyModel(fh);
  }
  const test = data.test.length ? pickedRows(await ctx.extract(extractor, data.test, key, 'backbone test')) : undefined;
  const oof = test ? undefined : await heldOutProbs(blocks, rows.labels, k, chosen, { seed: o.seed, holdout, cGrid, ...SELECTION });
  Object.assign(probeStage, solver, { seconds: (Date.now() - t0) / 1000 });
  const cut = chosen.cuts.join('+');
  return {
    model,
    engine: staticHeadEngine(headModel),
    evalFeatures: test ?? pickedRows(fitRows),
    // Deepest chosen cut: everything up to it stays frozen (candidates are ordered shallow → deep).
    frozenUpTo: chosen.cuts.at(-1)!,
    cut,
    head: { kind: chosen.head, hidden: [], dropout: 0 },
    metrics: Number.isFinite(chosen.accuracy) ? { [sel.protocol === 'cv' ? 'cv' : 'heldOut']: { accuracy: chosen.accuracy, sd: chosen.sd, folds: sel.folds } } : {},
    heldOut: oof && {
      probs: oof.probs,
      labels: Int32Array.from(oof.rows, (r) => rows.labels[r]!),
      paths: oof.rows.map((r) => rows.paths[r]!),
      split: sel.protocol === 'cv' ? 'cross-validation (out of fold)' : viewNote ? 'augmented views of the training images' : 'held-out split',
    },
  };
}

/**
 * How candidates are compared (chosen on the development sets, scripts/selection-study.ts): three
 * rounds of k-fold CV on fresh folds, and the all-cut ensemble preferred unless clearly beaten.
 */
const SELECTION = { repeats: 3, ensemble: true } as const;

/**
 * Whether the default recipe tries fine-tuning, and why: a zoo backbone with pretrained weights,
 * no explicit head kind, at least AUTO_FINE_TUNE_MIN labelled images scored on a held-out split
 * (the trial is judged there), time left, and a single-cut linear candidate to start from.
 */
function fineTuneDecision(ctx: RecipeContext, sel: ProbeSelection, labelled: number, heldOut: boolean): { tried: boolean; reason: string; single?: ProbeScore } {
  const { o, bb } = ctx;
  const singles = sel.scores.filter((s) => s.head === 'linear' && !s.combine && s.cuts.length === 1);
  const single = singles.length ? singles.reduce((a, b) => (b.accuracy > a.accuracy + 1e-9 ? b : a)) : undefined;
  const no = (reason: string) => ({ tried: false, reason });
  if (bb.kind !== 'zoo' || !bb.spec) return no(`the backbone ${bb.ref} is not a zoo architecture, so its blocks are unknown`);
  if (o.head !== 'auto') return no(`--head ${o.head} asks for a frozen head`);
  if (!o.fineTuneTrial) return no('--no-fine-tune-trial');
  if (o.weights === 'none') return no('the backbone has no pretrained weights');
  if (labelled < AUTO_FINE_TUNE_MIN) return no(`${labelled} labelled images; it is tried from ${AUTO_FINE_TUNE_MIN}, where a held-out split can tell a real gain from luck`);
  if (!heldOut || !single) return no('no held-out split to judge it on');
  if (ctx.deadline !== undefined && Date.now() > ctx.deadline) return no(`the time budget of ${o.timeBudget} s is spent`);
  return { tried: true, reason: `${labelled} labelled images (tried from ${AUTO_FINE_TUNE_MIN}); starting from ${single.cuts[0]}, the best single cut (held-out ${(single.accuracy * 100).toFixed(1)}%)`, single };
}

/** Augmented views per labelled image when some class has a single image. */
const VIEWS = 4;

function minClassCount(y: Int32Array, k: number): number {
  const counts = new Array(k).fill(0);
  for (const l of y) counts[l]++;
  return Math.min(...counts);
}

/** `views` randomly augmented copies of every item, through the extractor (not cached: each is new). */
async function augmentedViews(ctx: RecipeContext, ex: Extractor, items: DatasetItem[], views: number): Promise<FeatureSet> {
  const aug = resolveAugment(true)!;
  const crop = aug.crop as { scale: [number, number]; ratio: [number, number] };
  const repeated = Array.from({ length: views }, () => items).flat();
  // One generator per view (by its index), not one shared by decodes that finish in any order:
  // the same seed gives the same views.
  const rng = (what: string, i: number) => new Rng(deriveSeed(ctx.o.seed, `probe-view-${what}`, i));
  const r = await extractFeatures(ex, repeated, {
    label: 'augmented views',
    augment: (rgb, h, w, _item, i) => augmentPixels(rgb, h, w, aug, rng('pixels', i)),
    crop: (cw, ch, _item, i) => randomResizedCrop(cw, ch, crop.scale, crop.ratio, rng('crop', i)),
    onProgress: ctx.onEvent,
  });
  ctx.backboneRuns += r.computed;
  return r.features;
}


/** One extractor for every candidate (one graph, one backbone pass) and each candidate's width. */
function candidates(ctx: RecipeContext, cuts: string[]): { extractor: Extractor; dims: number[] } {
  const { bb, o } = ctx;
  if (!bb.pooledAt) {
    const extractor = bb.extractor({ pooling: o.pooling });
    return { extractor, dims: [extractor.outputShape.reduce((a, b) => a * b, 1)] };
  }
  const m = bb.pooledAt(cuts, o.pooling);
  const dims = cuts.length === 1 ? [m.outputs[0]!.shape[1] as number] : cuts.map((_, i) => m.getLayer(`graft_cut_pool_${i}`).outputShape[1] as number);
  return { extractor: bb.extractor({ frozen: m }), dims };
}

/** Each candidate's columns of the concatenated rows. */
function split(f: FeatureSet, cuts: string[], dims: number[]): ProbeBlock[] {
  const total = dims.reduce((a, b) => a + b, 0);
  const n = f.labels.length;
  let off = 0;
  return cuts.map((name, c) => {
    const d = dims[c]!;
    const data = new Float32Array(n * d);
    for (let i = 0; i < n; i++) data.set(f.data.subarray(i * total + off, i * total + off + d), i * d);
    off += d;
    return { name, dims: d, data };
  });
}

/** The rows of `f` restricted to the chosen candidates' columns, concatenated in candidate order. */
function columns(f: FeatureSet, blocks: ProbeBlock[], chosen: string[]): FeatureSet {
  if (blocks.length === 1) return f;
  const total = blocks.reduce((a, b) => a + b.dims, 0);
  const spans: [number, number][] = [];
  let off = 0;
  for (const b of blocks) {
    if (chosen.includes(b.name)) spans.push([off, b.dims]);
    off += b.dims;
  }
  const d = spans.reduce((a, [, w]) => a + w, 0);
  const n = f.labels.length;
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let o = 0;
    for (const [s, w] of spans) {
      data.set(f.data.subarray(i * total + s, i * total + s + w), i * d + o);
      o += w;
    }
  }
  return { data, shape: [d], labels: f.labels, paths: f.paths };
}


/** One line per candidate: its best head's score. */
function summary(scores: ProbeScore[]): string[] {
  const byCut = new Map<string, ProbeScore[]>();
  const name = (s: ProbeScore) => (s.combine === 'ensemble' ? `ensemble of ${s.cuts.length} cuts` : s.cuts.join(' + '));
  for (const s of scores) byCut.set(name(s), [...(byCut.get(name(s)) ?? []), s]);
  return [...byCut].map(([cut, list]) => `  ${cut.padEnd(24)} ${list.map((s) => `${s.head} ${(s.accuracy * 100).toFixed(1)}%${s.C !== undefined ? ` (C=${s.C})` : ''}`).join('   ')}`);
}
