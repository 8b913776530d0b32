import fs from 'node:fs';
import path from 'node:path';
import { initTf } from '../engine/tfjs/backend.js';
import '../engine/tfjs/wasm-grads.js';
import { getModelSpec } from '../zoo/registry.js';
import { freeze } from '../transfer/freeze.js';
import type { EpochLogs } from '../train/fit.js';
import { checkModelOut, checkCheckpointDir, RUN_LOCK } from '../io/out-target.js';
import { evaluateProbs, type Evaluation } from '../evaluate/metrics.js';
import type { GraftManifest } from '../io/manifest.js';
import { openBackbone, backboneKind } from '../backbones/index.js';
import { RECIPES, RecipeContext, pickRecipe } from '../recipes/index.js';
import { predictFeatures, concatRows } from '../features/feature-set.js';
import { parseTrainOptions, type TrainOptions } from '../options.js';
import { saveModelDir } from '../io/model-dir.js';
import { probeImageSize } from '../data/probe.js';
import { prepareData, type PreparedData } from '../data/prepare.js';
import { composePipeline } from '../backbones/onnx.js';
import { trainManifest, reportNotes } from './train-manifest.js';
import { eventLog } from '../io/event-log.js';
import { GraftError } from '../errors.js';
import { withLock } from '../io/lock.js';
import { loadResumePoint, runFingerprint } from '../recipes/resume.js';
import type { GraftEvent, GraftMessageEvent } from '../events.js';

export { prepareData, type PreparedData } from '../data/prepare.js';
export { fineTuneCut, discriminativeGroups } from '../recipes/policy.js';


export interface TrainResult {
  outDir: string;
  manifest: GraftManifest;
  evaluation: Evaluation;
  history: EpochLogs[];
  /** How many images went through the frozen backbone in this run (0 when all were cached). */
  backboneRuns: number;
  skipped: { path: string; reason: string }[];
  seconds: number;
  /**
   * The per-image predictions `evaluation` was computed from: the test set, else out-of-fold
   * predictions under cross-validation, else the validation split (`split` says which). Never
   * images the head was fit on: what a page showing mistakes should show.
   */
  predictions: { split: string; paths: string[]; labels: Int32Array; probs: Float32Array };
}


/**
 * Train an image classifier by transfer learning and write a model directory.
 *
 * Frozen backbone layers run once per image on onnxruntime (cached on disk across runs); only the
 * part after the cut trains. The options pick a recipe (recipes/): a new head on frozen features,
 * the fastai fine-tune (head first, then the top blocks at lower, discriminative rates), few-shot
 * heads computed in one pass, or — with `weights: 'none'` — the whole network from random
 * initialisation (the from-scratch baseline).
 *
 * @example
 * const r = await trainClassifier({ data: 'photos/', out: 'my-model', backbone: 'mobilenet_v2', weights: 'nsfwjs', epochs: 5 });
 * console.log(r.evaluation.accuracy);
 */
export async function trainClassifier(raw: TrainOptions, handler: (e: GraftEvent) => void = () => {}): Promise<TrainResult> {
  const o = parseTrainOptions(raw);
  // Refuse a bad --out before any work: Graft replaces only its own earlier output.
  const protect = [o.data, o.val, o.test, o.backbone, o.weights];
  checkModelOut(o.out, { force: o.force, protect });
  const ckptDir = `${path.resolve(o.out)}.checkpoint`;
  checkCheckpointDir(ckptDir);
  // One run per --out at a time: a second would share the checkpoint and race the final swap.
  return withLock(path.join(ckptDir, RUN_LOCK), () => train(o, handler, protect, ckptDir), {
    busy: (holder) => new GraftError('E_OUT_BUSY', `Another Graft process (${holder}) is training into ${o.out} right now.`, 'Wait for it to finish, or choose another --out.'),
  });
}

async function train(o: ReturnType<typeof parseTrainOptions>, handler: (e: GraftEvent) => void, protect: (string | undefined)[], ckptDir: string): Promise<TrainResult> {
  const t0 = Date.now();
  const onEvent = o.log ? eventLog(o.log, { force: o.force, protect }, handler) : handler;
  await initTf();
  const say = (message: string, type: GraftMessageEvent['type'] = 'info') => onEvent({ type, message });
  const recipe = pickRecipe(o, backboneKind(o.backbone));

  say(`Reading ${o.data}`, 'stage');
  const data = await prepareData({ ...o, requireVal: recipe !== 'probe' && !o.test });
  for (const w of data.warnings) say(w, 'warning');
  say(`${data.classes.length} classes; train ${data.train.length}, validation ${data.val.length}${data.test.length ? `, test ${data.test.length}` : ''} images; ${data.skipped.length} skipped`);

  const inputSize = recipe === 'scratch' && !o.inputSize ? await scratchInputSize(o.backbone, data, say) : o.inputSize;
  say(`Loading ${o.backbone} (weights: ${backboneKind(o.backbone) === 'onnx' ? 'in the ONNX file' : o.weights})`, 'stage');
  const bb = await openBackbone(o.backbone, { weights: o.weights, cut: o.cut, preprocess: o.preprocess, inputSize, cacheDir: o.cacheDir, onEvent });
  try {
    if (o.resume && o.restart) throw new GraftError('E_BAD_OPTIONS', '--resume and --restart cannot be combined: one continues the checkpoint, the other discards it.', 'Pass one of them.');
    const fingerprint = runFingerprint(o, data);
    // Computed heads (probe, few-shot) have no epochs to resume: their slow part, the backbone
    // pass, is kept in the feature cache as it goes.
    const gradient = recipe !== 'probe' && recipe !== 'few-shot';
    if (o.resume && !gradient) say(`--resume: nothing to resume with the ${recipe} recipe (no epochs); features already computed come from the cache`, 'warning');
    const resume = gradient ? loadResumePoint(ckptDir, fingerprint, o.resume ? true : o.restart ? false : undefined, (m) => say(m, 'warning')) : undefined;
    if (resume) say(`Found this run's checkpoint (${resume.stage} stage, ${resume.fit.epoch} epoch(s) done): resuming; pass --restart to start over`, 'warning');
    const ctx = new RecipeContext(o, data, bb, onEvent, ckptDir, fingerprint, resume);
    if (o.timeBudget) ctx.deadline = t0 + o.timeBudget * 1000;
    ctx.skipped.push(...data.skipped);
    const r = await RECIPES[recipe](ctx);

    say(`Evaluating on the ${data.test.length ? 'test set' : (r.heldOut?.split ?? 'validation set')}`, 'stage');
    const held = data.test.length ? undefined : r.heldOut;
    const probs = held ? held.probs : concatRows(await predictFeatures((x, s) => r.engine.predict(x, s), r.evalFeatures));
    const evalLabels = held ? held.labels : r.evalFeatures.labels;
    const evaluation = evaluateProbs(probs, evalLabels, data.classes.length, { worst: 12 });
    const predictions = { split: data.test.length ? 'test set' : (held?.split ?? 'validation set'), paths: held ? held.paths : r.evalFeatures.paths, labels: evalLabels, probs };
    await r.engine.syncToModel();
    r.engine.dispose();
    // Record in the saved model what stayed frozen (Keras' `trainable` flags travel in model.json).
    if (r.frozenUpTo && bb.kind !== 'onnx') freeze(r.model, { upTo: r.frozenUpTo, spec: bb.spec });
    else freeze(r.model, { all: false });
    const manifest = trainManifest(ctx, r, evaluation, t0);
    say(`Writing ${o.out}`, 'stage');
    await saveModelDir(o.out, {
      model: r.model,
      manifest,
      evaluation,
      history: ctx.history,
      evalPaths: held ? held.paths : r.evalFeatures.paths,
      writeOnnx: o.onnx,
      writeReport: o.report,
      force: o.force,
      protect,
      // ONNX backbones: model.json holds the head only (its input is the backbone's features);
      // model.onnx is the whole pipeline: preprocessing, the user's backbone, the head.
      onnxBytes: bb.onnx ? composePipeline(bb.onnx, r.model, bb.preprocess) : undefined,
      extraFiles: { 'train-log.jsonl': ctx.logFile },
      notes: reportNotes(manifest),
    });
    fs.rmSync(ckptDir, { recursive: true, force: true });
    return { outDir: path.resolve(o.out), manifest, evaluation, history: ctx.history, backboneRuns: ctx.backboneRuns, skipped: manifest.dataset.skipped, seconds: (Date.now() - t0) / 1000, predictions };
  } finally {
    bb.dispose();
  }
}

/** Whole-network training is memory-bound: from scratch, default to the images' own size when smaller. */
async function scratchInputSize(backbone: string, data: PreparedData, say: (m: string, t: GraftMessageEvent['type']) => void): Promise<number> {
  const spec = getModelSpec(backbone);
  const own = await probeImageSize(data.train.slice(0, 16).map((i) => i.path));
  const s = Math.max(spec.minInputSize, Math.min(spec.defaultInputShape[0], own ?? spec.defaultInputShape[0]));
  if (s < spec.defaultInputShape[0]) say(`From scratch: training the whole network at ${s}x${s} (reduced from ${spec.defaultInputShape[0]}) to fit TF.js' wasm heap`, 'warning');
  return s;
}
