import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { GraftError, isGraftError } from '../errors.js';
import { createOrtEngine } from '../engine/ort-train/index.js';
import { initTf } from '../engine/backend.js';
import '../engine/wasm-grads.js';
import { createModel, getModelSpec } from '../zoo/registry.js';
import type { PreprocessMode } from '../zoo/types.js';
import { cutModel, splitAt } from '../transfer/surgery.js';
import { addHead, HEAD_LAYER_NAMES } from '../transfer/head.js';
import { freeze } from '../transfer/freeze.js';
import { seedWeights } from '../transfer/seed.js';
import { createTfjsEngine } from '../train/tfjs-engine.js';
import type { EngineOptions, TrainingEngine } from '../train/engine.js';
import { fit, type Callback, type EpochLogs } from '../train/fit.js';
import { recomputeBatchNormStats } from '../train/precise-bn.js';
import { earlyStopping, progressBar, jsonlLogger, checkpoint, callbackFromFns } from '../train/callbacks/index.js';
import { withStagedDir } from '../io/atomic.js';
import { checkModelOut, checkCheckpointDir } from '../io/out-target.js';
import { fileSaveHandler } from '../io/tfjs-files.js';
import { evaluateProbs, type Evaluation } from '../evaluate/metrics.js';
import { resolveAugment, augmentPixels, randomResizedCrop } from '../data/augment.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { layersModelHash } from '../engine/ort.js';
import { extractFeatures, pixelExtractor, augmentedSource, lazyFrozenExtractor, type Extractor } from './features.js';
import { featureSource, predictFeatures, concatRows, type FeatureSet } from './sources.js';
import { parseTrainOptions, type TrainOptions } from './options.js';
import { cachedExtract, type CacheKey } from './feature-store.js';
import { saveModelDir, type SaveInputs } from './model-dir.js';
import type { GraftManifest } from '../io/manifest.js';
import { GRAFT_VERSION } from '../io/manifest.js';
import { probeImageSize } from './probe.js';
import { prepareData } from './prepare.js';
import { shareFineTuneCut } from './fine-tune-cut.js';
import { scheduleFor, fineTuneCut, fineTuning, discriminativeGroups, engineOptions, setTrainable } from './recipe.js';
import { staticHeadEngine } from '../heads/static-engine.js';

export { prepareData, type PreparedData } from './prepare.js';
export { fineTuneCut, discriminativeGroups } from './recipe.js';
import { isGraftModelDir, resolveGraftBackbone } from './chain.js';
import { fewShotHead, buildHeadModel, headOnlyModel } from '../heads/index.js';
import { isOnnxBackbone, loadOnnxBackbone, featureInputModel, composePipeline, type OnnxBackboneHandle } from './onnx-train.js';

export interface TrainEvent {
  type: 'stage' | 'info' | 'warning' | 'progress';
  message: string;
  loaded?: number;
  total?: number;
  label?: string;
}

export interface TrainResult {
  outDir: string;
  manifest: GraftManifest;
  evaluation: Evaluation;
  history: EpochLogs[];
  /** How many images went through the frozen backbone in this run (0 when all were cached). */
  backboneRuns: number;
  skipped: { path: string; reason: string }[];
  seconds: number;
}


/**
 * Train an image classifier by transfer learning and write a model directory.
 *
 * Frozen backbone layers run once per image on onnxruntime (cached on disk across runs); only the
 * part after the cut trains, in TF.js. With `fineTuneBlocks`, the fastai recipe follows: head
 * first, then the top blocks unfrozen at lower, discriminative rates. With `weights: 'none'` the
 * whole network trains from random initialisation (the from-scratch baseline).
 *
 * @example
 * const r = await trainClassifier({ data: 'photos/', out: 'my-model', backbone: 'mobilenet_v2', weights: 'nsfwjs', epochs: 5 });
 * console.log(r.evaluation.accuracy);
 */
export async function trainClassifier(raw: TrainOptions, onEvent: (e: TrainEvent) => void = () => {}): Promise<TrainResult> {
  const o = parseTrainOptions(raw);
  const t0 = Date.now();
  // Refuse a bad --out before any work: Graft replaces only its own earlier output.
  const protect = [o.data, o.val, o.test, o.backbone, o.weights];
  checkModelOut(o.out, { force: o.force, protect });
  const ckptDir = `${path.resolve(o.out)}.checkpoint`;
  checkCheckpointDir(ckptDir);
  await initTf();
  const say = (message: string, type: TrainEvent['type'] = 'info') => onEvent({ type, message });
  const enginesUsed: string[] = [];
  // One place picks the training engine: onnxruntime training graphs (faster; measured in
  // BENCHMARKS.md) unless a layer has no ONNX gradient yet, then TF.js on wasm.
  const makeEngine = async (model: tf.LayersModel, opts: EngineOptions): Promise<TrainingEngine> => {
    if (o.engine === 'ort') {
      try {
        const e = await createOrtEngine(model, opts);
        enginesUsed.push('ort');
        return e;
      } catch (err) {
        if (!(isGraftError(err) && err.code === 'E_ORT_TRAIN_UNSUPPORTED')) throw err;
        say(`${err.message.split('\n')[0]} Falling back to the TF.js engine for this stage.`, 'warning');
      }
    }
    enginesUsed.push('tfjs-wasm');
    return createTfjsEngine(model, opts);
  };

  say(`Reading ${o.data}`, 'stage');
  const data = await prepareData(o);
  for (const w of data.warnings) say(w, 'warning');
  const classes = data.classes;
  say(`${classes.length} classes; train ${data.train.length}, validation ${data.val.length}${data.test.length ? `, test ${data.test.length}` : ''} images; ${data.skipped.length} skipped`);

  const onnxFile = isOnnxBackbone(o.backbone);
  // Chained transfer: an earlier Graft model directory, cut at its recorded cut layer.
  const graftBb = !onnxFile && isGraftModelDir(o.backbone) ? await resolveGraftBackbone(o.backbone) : undefined;
  if (graftBb?.manifest.files.tfjsInput === 'features') {
    throw new GraftError('E_CHAIN_ONNX', `${o.backbone} was trained on an ONNX backbone; its model.json is a head only and cannot serve as a backbone.`, 'Use that ONNX file itself as --backbone.');
  }
  const scratch = o.weights === 'none' && !onnxFile && !graftBb;
  const fewShot = o.head !== 'dense';
  const fineTune = fineTuning(o.fineTuneBlocks);
  if (fewShot && (scratch || fineTune || o.augment)) {
    throw new GraftError('E_HEAD_FEW_SHOT', `A ${o.head} head is computed from frozen features in one pass; it cannot be combined with ${scratch ? '--weights none' : fineTune ? '--fine-tune-blocks' : '--augment'}.`, "Use --head dense for gradient training.");
  }
  if (onnxFile && fineTune) {
    throw new GraftError('E_ONNX_FROZEN_ONLY', `An ONNX backbone is frozen only: onnxruntime-node cannot train it. Received: fineTuneBlocks=${o.fineTuneBlocks} with backbone ${o.backbone}.`, 'Drop --fine-tune-blocks, or use a zoo backbone (graft models) to fine-tune.');
  }
  // A user's ONNX model has no zoo spec; everything spec-specific below is skipped for it.
  const spec = onnxFile ? undefined : graftBb ? graftBb.spec : getModelSpec(o.backbone);
  if (graftBb && !spec && fineTune) {
    throw new GraftError('E_FINE_TUNE_BLOCKS', `Cannot fine-tune blocks of ${o.backbone}: its architecture "${graftBb.architecture}" is not in the zoo, so its blocks are unknown.`, 'Drop --fine-tune-blocks.');
  }
  let onnxH: OnnxBackboneHandle | undefined;
  let size: [number, number];
  if (onnxFile) {
    onnxH = await loadOnnxBackbone(o.backbone, { cut: o.cut, preprocess: o.preprocess ?? 'torch', inputSize: o.inputSize });
    size = [onnxH.extractor.inputSize[0], onnxH.extractor.inputSize[1]];
  } else if (graftBb) size = graftBb.inputSize;
  else if (o.inputSize) size = [o.inputSize, o.inputSize];
  else if (scratch) {
    // Whole-network training in TF.js is memory-bound: default to the images' own size when smaller.
    const own = await probeImageSize(data.train.slice(0, 16).map((i) => i.path));
    const s = Math.max(spec!.minInputSize, Math.min(spec!.defaultInputShape[0], own ?? spec!.defaultInputShape[0]));
    size = [s, s];
  } else size = [spec!.defaultInputShape[0], spec!.defaultInputShape[1]];
  if (scratch && !o.inputSize && size[0] < spec!.defaultInputShape[0]) {
    say(`From scratch: training the whole network at ${size[0]}x${size[1]} (reduced from ${spec!.defaultInputShape[0]}) to fit TF.js' wasm heap`, 'warning');
  }

  say(`Loading ${o.backbone} (weights: ${onnxFile ? 'in the ONNX file' : o.weights})`, 'stage');
  const created = onnxH
    ? { model: featureInputModel(onnxH.extractor.outputShape), weights: { source: o.backbone, sha256: onnxH.sha256, file: path.resolve(o.backbone), skipped: [] }, pretrained: null }
    : graftBb
      ? { model: graftBb.model, weights: { source: `graft:${graftBb.dir}`, sha256: graftBb.weightsHash, file: graftBb.dir, skipped: [] }, pretrained: null }
      : await createModel(o.backbone, { includeTop: false, weights: o.weights, inputShape: [size[0], size[1], 3], pooling: null });
  const preprocess: PreprocessMode = onnxH ? (o.preprocess ?? 'torch') : graftBb ? graftBb.preprocess : (created.pretrained?.preprocess ?? o.preprocess ?? spec!.defaultPreprocess);
  const headCut = onnxH ? onnxH.cut : graftBb ? graftBb.cut : (o.cut ?? spec!.featureLayer);
  const base = onnxH || graftBb ? created.model : cutModel(created.model, headCut, spec);
  let full = addHead(base, { classes: classes.length, hidden: o.hidden, dropout: o.dropout, pooling: o.pooling });
  // Seeded starting weights: the new head always, the whole network when training from scratch.
  seedWeights(full, o.seed, scratch ? () => true : (l) => l.name.startsWith('graft_head_'));

  const histories: EpochLogs[] = [];
  let backboneRuns = 0;
  const allSkipped = [...data.skipped];
  // The evaluation set's features at a cut: the test set when there is one, else validation.
  // Without a cache key (pixels of the whole network) the test images are decoded, not cached.
  const testFeatures = async (ex: Extractor, key: CacheKey | undefined, label: string, val: FeatureSet): Promise<FeatureSet> => {
    if (!data.test.length) return val;
    if (!key) {
      const d = await extractFeatures(ex, data.test, { label });
      allSkipped.push(...d.skipped);
      return d.features;
    }
    const t = await cachedExtract(ex, data.test, key, { cacheDir: o.cacheDir, label, onEvent });
    backboneRuns += t.computed;
    allSkipped.push(...t.skipped);
    return t.features;
  };
  const evalName = data.test.length ? 'test' : 'validation';
  const stages: Record<string, unknown>[] = [];
  const rng = new Rng(deriveSeed(o.seed, 'augment'));
  const aug = o.augment ? resolveAugment(true) : undefined;
  const augmentFn = aug ? (rgb: Uint8Array, h: number, w: number) => augmentPixels(rgb, h, w, aug, rng) : undefined;
  const cropFn = aug && aug.crop ? (cw: number, ch: number) => randomResizedCrop(cw, ch, (aug.crop as { scale: [number, number] }).scale, (aug.crop as { ratio: [number, number] }).ratio, rng) : undefined;

  // While training, a sibling folder holds the per-epoch checkpoint (the whole TF.js model,
  // swapped in atomically) and the JSON-lines metric log; on success the log moves into the
  // model directory and the checkpoint folder is removed.
  fs.mkdirSync(ckptDir, { recursive: true });
  const logFile = path.join(ckptDir, 'train-log.jsonl');
  fs.rmSync(logFile, { force: true });
  const callbacks = (stage: string): Callback[] => {
    const cbs: Callback[] = [];
    if (!o.quiet) cbs.push(progressBar());
    if (o.earlyStopping > 0) cbs.push(earlyStopping({ monitor: 'valLoss', patience: o.earlyStopping, restoreBestWeights: true }));
    cbs.push(callbackFromFns({ onEpochEnd: (l) => void onEvent({ type: 'info', message: `${stage} epoch ${l.epoch + 1}: loss ${l.loss.toFixed(4)} acc ${l.acc.toFixed(3)}${l.valAcc !== undefined ? ` val_acc ${l.valAcc.toFixed(3)}` : ''}`, label: 'epoch' }) }));
    cbs.push(jsonlLogger(logFile));
    cbs.push(
      checkpoint(async ({ engine: e, epoch }) => {
        await e.syncToModel();
        await withStagedDir(path.join(ckptDir, 'model'), async (dir) => {
          await full.save(fileSaveHandler(path.join(dir, 'model.json')));
          fs.writeFileSync(path.join(dir, 'checkpoint.json'), JSON.stringify({ stage, epoch, classes, savedAt: new Date().toISOString() }));
        });
      }),
    );
    return cbs;
  };

  let engine: TrainingEngine;
  let evalFeatures: FeatureSet;
  const dispose: (() => void)[] = [];
  try {
    if (scratch) {
      say(`Training the whole network from random initialisation at ${size[0]}x${size[1]}`, 'stage');
      const ex = pixelExtractor(size, preprocess);
      const trainF = await extractFeatures(ex, data.train, { augment: undefined, label: 'decode train' });
      const valF = await extractFeatures(ex, data.val, { label: 'decode validation' });
      allSkipped.push(...trainF.skipped, ...valF.skipped);
      // From random weights BatchNorm must normalise with batch statistics (there is nothing
      // pretrained to keep in inference mode).
      engine = await makeEngine(full, { ...engineOptions(o, trainF.features.labels, classes.length), trainBatchNormStats: true });
      const h = await fit(engine, { train: featureSource(trainF.features, { batchSize: o.batchSize, shuffle: true, seed: o.seed }), val: featureSource(valF.features, { batchSize: 64 }) }, { epochs: o.epochs, schedule: scheduleFor(o, o.lr), callbacks: callbacks('scratch') });
      // Batch statistics → precise moving statistics before any inference-mode evaluation.
      await engine.syncToModel();
      await recomputeBatchNormStats(full, featureSource(trainF.features, { batchSize: Math.max(16, o.batchSize), shuffle: true, seed: o.seed }));
      engine.setWeights(full.weights.map((w) => w.read().dataSync() as Float32Array));
      histories.push(...h.epochs.map((e) => ({ ...e, stage: 'scratch' })));
      stages.push({ stage: 'scratch', epochs: h.epochs.length, lr: o.lr });
      evalFeatures = data.test.length ? (await extractFeatures(ex, data.test, { label: 'decode test' })).features : valF.features;
    } else {
      // Stage 1: head only, on features at the head cut (or the fine-tune cut when fine-tuning).
      const ft = fineTune ? fineTuneCut(spec!, o.fineTuneBlocks) : undefined;
      // Zoo backbones: split the TF.js model at the cut, compile the frozen half for onnxruntime.
      // ONNX backbones: the user's graph is the frozen half, the head model is the top.
      // When the head starts with global pooling, the pooling runs in the frozen graph too: the
      // cache then holds one vector per image (1280 floats for MobileNetV2) instead of the whole
      // feature map (7×7×1280), 49× less memory and disk.
      const pooledCut = !onnxH && full.layers.some((l) => l.name === HEAD_LAYER_NAMES.pool) ? HEAD_LAYER_NAMES.pool : headCut;
      const split1 = onnxH ? { top: full } : splitAt(full, pooledCut, spec);
      let ex1: Extractor;
      let weightsKey: string;
      if (onnxH) {
        ex1 = onnxH.extractor;
        weightsKey = onnxH.sha256;
        dispose.push(() => onnxH!.backbone.dispose());
      } else {
        // Compiled on first use: with a warm feature cache, or when a fine-tune stage supplies the
        // head's features (shared pass below), the graph to the head cut never runs.
        const frozen1 = (split1 as { frozen: tf.LayersModel }).frozen;
        ex1 = lazyFrozenExtractor(frozen1, size, { preprocess, cacheDir: o.cacheDir }, () => say(`Compiling the frozen backbone (${o.backbone} up to ${headCut}) for onnxruntime`, 'stage'), (b) => dispose.push(() => b.dispose()));
        weightsKey = created.weights?.sha256 ?? layersModelHash(frozen1, { preprocess });
      }
      // The cache key names what determines the activations (architecture, weight hash, cut,
      // preprocessing, size): stable across processes, unlike auto-generated layer names.
      const key1 = { backbone: `${onnxH ? 'onnx' : graftBb ? `graft:${graftBb.architecture}` : o.backbone}@graft-exporter`, weights: weightsKey, cut: pooledCut === headCut ? headCut : `${headCut}+${o.pooling}pool`, preprocess, size };
      // Fine-tuning: one backbone pass, to the fine-tune cut; the head stage's (unaugmented)
      // features come from those activations (fine-tune-cut.ts).
      const shared = ft?.cut ? await shareFineTuneCut(full, spec!, ft.cut, pooledCut, data, { ...key1, cut: ft.cut }, { preprocess, size, cacheDir: o.cacheDir, onEvent }) : undefined;
      if (shared) dispose.push(() => shared.dispose());
      const [trainF1, valF1] = shared
        ? [{ features: shared.head.train, computed: shared.computed, skipped: shared.skipped }, { features: shared.head.val, computed: 0, skipped: [] }]
        : [await cachedExtract(ex1, data.train, key1, { cacheDir: o.cacheDir, label: 'backbone train', augment: undefined, onEvent }), await cachedExtract(ex1, data.val, key1, { cacheDir: o.cacheDir, label: 'backbone validation', onEvent })];
      backboneRuns += trainF1.computed + valF1.computed;
      allSkipped.push(...trainF1.skipped, ...valF1.skipped);

      if (fewShot) {
        // No gradient steps: the head is computed from the training features in one pass.
        say(`Computing a ${o.head} head from ${trainF1.features.labels.length} training embeddings`, 'stage');
        const fh = fewShotHead(o.head as 'prototype' | 'knn', trainF1.features, classes.length, { k: o.k });
        full = buildHeadModel(pooledCut === headCut ? base : cutModel(full, pooledCut), fh);
        engine = staticHeadEngine(headOnlyModel(fh));
        const v = await engine.evaluate({ x: valF1.features.data, xShape: [valF1.features.labels.length, ...valF1.features.shape], y: valF1.features.labels });
        // No epochs, so no learning curves: the validation numbers go with the stage instead.
        stages.push({ stage: o.head, k: o.head === 'knn' ? o.k : undefined, support: trainF1.features.labels.length, valLoss: v.loss, valAcc: v.correct / Math.max(1, v.count) });
        evalFeatures = await testFeatures(ex1, key1, 'backbone test', valF1.features);
      } else {
      let trainSource = featureSource(trainF1.features, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
      if (augmentFn) {
        // With augmentation every epoch sees new pixels: the frozen part runs per batch on ORT.
        trainSource = augmentedSource(ex1, data.train, o.batchSize, o.seed, augmentFn, cropFn, () => backboneRuns++);
      }
      setTrainable(split1.top, () => true);
      engine = await makeEngine(split1.top, engineOptions(o, trainF1.features.labels, classes.length));
      say(`Training the head (${o.epochs} epochs)`, 'stage');
      const h1 = await fit(engine, { train: trainSource, val: featureSource(valF1.features, { batchSize: 128 }) }, { epochs: o.epochs, schedule: scheduleFor(o, o.lr), callbacks: callbacks('head') });
      await engine.syncToModel();
      histories.push(...h1.epochs.map((e) => ({ ...e, stage: 'head' })));
      stages.push({ stage: 'head', epochs: h1.epochs.length, lr: o.lr, cut: headCut });
      // With a fine-tune stage to follow, the test set is evaluated after it (at its cut) only.
      evalFeatures = ft ? valF1.features : await testFeatures(ex1, key1, 'backbone test', valF1.features);

      if (ft) {
        engine.dispose();
        let top: tf.LayersModel;
        let ex2: Extractor;
        let trainF2: FeatureSet;
        let valF2: FeatureSet;
        let key2: CacheKey | undefined;
        if (ft.cut === null) {
          // The whole network trains: its input is the decoded, preprocessed pixels (not cached on
          // disk: 224×224×3 floats an image), and nothing runs frozen.
          say(`Fine-tuning the whole network (${ft.blocks.length} blocks and the stem) at ${size[0]}x${size[1]}`, 'stage');
          top = full;
          ex2 = pixelExtractor(size, preprocess);
          const [t2, v2] = [await extractFeatures(ex2, data.train, { label: 'decode train' }), await extractFeatures(ex2, data.val, { label: 'decode validation' })];
          allSkipped.push(...t2.skipped, ...v2.skipped);
          [trainF2, valF2] = [t2.features, v2.features];
        } else {
          say(`Fine-tuning the top ${ft.blocks.length} block(s) (${ft.blocks.join(', ')}) from ${ft.cut}`, 'stage');
          [top, ex2, key2, trainF2, valF2] = [shared!.top, shared!.extractor, shared!.key, shared!.cut.train, shared!.cut.val];
        }
        const unfrozen = new Set(top.layers.map((l) => l.name));
        setTrainable(top, (n) => unfrozen.has(n));
        const groups = discriminativeGroups(top, spec!, ft.blocks, o.lrDecay, ft.cut === null);
        const ftLr = o.lr * o.fineTuneLrFactor;
        const ftEpochs = o.fineTuneEpochs ?? Math.max(1, Math.ceil(o.epochs / 2));
        engine = await makeEngine(top, { ...engineOptions(o, trainF2.labels, classes.length, groups), optimizer: { type: o.optimizer, lr: ftLr, momentum: o.momentum, weightDecay: o.weightDecay } });
        const h2 = await fit(engine, { train: featureSource(trainF2, { batchSize: o.batchSize, shuffle: true, seed: o.seed + 1 }), val: featureSource(valF2, { batchSize: 64 }) }, { epochs: ftEpochs, schedule: scheduleFor(o, ftLr), callbacks: callbacks('fine-tune') });
        await engine.syncToModel();
        histories.push(...h2.epochs.map((e) => ({ ...e, epoch: e.epoch + h1.epochs.length, stage: 'fine-tune' })));
        stages.push({ stage: 'fine-tune', epochs: h2.epochs.length, lr: ftLr, cut: ft.cut, blocks: ft.blocks, groups: groups.map((g) => ({ name: g.name, lrMultiplier: g.lrMultiplier })) });
        evalFeatures = await testFeatures(ex2, key2, ft.cut === null ? 'decode test' : 'backbone test (fine-tune cut)', valF2);
      }
      }
    }

    say(`Evaluating on the ${evalName} set`, 'stage');
    const probs = concatRows(await predictFeatures((x, s) => engine.predict(x, s), evalFeatures));
    const evaluation = evaluateProbs(probs, evalFeatures.labels, classes.length, { worst: 12 });
    await engine.syncToModel();
    engine.dispose();

    const frozenUpTo = scratch ? null : fineTune ? fineTuneCut(spec!, o.fineTuneBlocks).cut : headCut;
    // Record in the saved model what stayed frozen (Keras' `trainable` flags travel in model.json).
    if (frozenUpTo && !onnxH) freeze(full, { upTo: frozenUpTo, spec });
    else setTrainable(full, () => true);
    const manifest: GraftManifest = {
      graftVersion: GRAFT_VERSION,
      createdAt: new Date().toISOString(),
      task: 'image-classification',
      classes,
      inputSize: size,
      preprocess,
      resize: 'crop',
      backbone: {
        kind: onnxH ? 'onnx' : graftBb ? 'graft' : 'zoo',
        name: onnxH ? path.basename(o.backbone) : graftBb ? graftBb.architecture : o.backbone,
        weights: {
          source: onnxH ? path.resolve(o.backbone) : graftBb ? `graft:${graftBb.dir}` : o.weights,
          sha256: created.weights?.sha256,
          file: created.weights?.file,
          origin: created.pretrained?.origin,
          license: created.pretrained?.license,
        },
        cut: headCut,
        frozenUpTo,
      },
      head: { pooling: o.pooling, hidden: fewShot ? [] : o.hidden, dropout: fewShot ? 0 : o.dropout, activation: 'softmax', kind: o.head },
      training: { ...o, stages, engine: [...new Set(enginesUsed)].join('+'), backend: tf.getBackend(), seconds: (Date.now() - t0) / 1000, backboneRuns },
      metrics: { split: evalName, accuracy: evaluation.accuracy, top5: evaluation.topK.find((t) => t.k === 5)?.accuracy, macroF1: evaluation.macro.f1, loss: evaluation.loss, count: evalFeatures.labels.length },
      history: histories as unknown as Record<string, unknown>[],
      dataset: {
        root: data.root,
        fingerprint: data.fingerprint,
        counts: { train: data.train.length, val: data.val.length, test: data.test.length },
        skipped: dedupeSkipped(allSkipped),
        warnings: data.warnings,
      },
      adaptation: [],
      files: { tfjs: 'model.json', tfjsInput: 'image', onnx: o.onnx ? 'model.onnx' : undefined, report: o.report ? 'report.html' : undefined },
    };
    const inputs: SaveInputs = { model: full, manifest, evaluation, history: histories, evalPaths: evalFeatures.paths, writeOnnx: o.onnx, writeReport: o.report, force: o.force, protect };
    if (onnxH) {
      // model.json holds the head only (its input is the backbone's features); model.onnx is the
      // whole pipeline: preprocessing, the user's backbone, the head.
      inputs.onnxBytes = composePipeline(onnxH, full, preprocess);
      manifest.files.tfjsInput = 'features';
    }
    say(`Writing ${o.out}`, 'stage');
    inputs.extraFiles = { 'train-log.jsonl': logFile };
    await saveModelDir(o.out, inputs);
    fs.rmSync(ckptDir, { recursive: true, force: true });
    return {
      outDir: path.resolve(o.out),
      manifest,
      evaluation,
      history: histories,
      backboneRuns,
      skipped: manifest.dataset.skipped,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    for (const d of dispose) d();
    if (graftBb) graftBb.full.dispose();
    else created.model.dispose();
  }
}

function dedupeSkipped(list: { path: string; reason: string }[]): { path: string; reason: string }[] {
  const seen = new Set<string>();
  return list.filter((s) => (seen.has(s.path) ? false : (seen.add(s.path), true)));
}

