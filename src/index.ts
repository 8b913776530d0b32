/**
 * Graft's public surface. Everything the CLI does is reachable from here.
 *
 * The list of exported names is pinned by test/index.test.ts: adding or removing one is a
 * deliberate edit of that list. Helpers used only inside Graft are imported from their modules.
 *
 * @example
 * import { createModel, cutModel, addHead, freeze, trainClassifier } from 'graft';
 *
 * // Keras-style: load, cut the source head, freeze, add a new head.
 * const { model, spec } = await createModel('inception_v3', { weights: 'nsfwjs', includeTop: false });
 * const base = cutModel(model, 'mixed10', spec);
 * freeze(base, { all: true });
 * const clf = addHead(base, { classes: 3, dropout: 0.2 });
 *
 * // Or the whole workflow on a folder of images:
 * const r = await trainClassifier({ data: 'photos/', out: 'my-model', epochs: 5 });
 */

// ── Model zoo & weights ──────────────────────────────────────────────────────────────────────
export {
  registerModel,
  listModels,
  getModelSpec,
  buildModel,
  createModel,
  preprocess,
  decodePredictions,
  IMAGENET_CLASSES,
  NSFW_CLASSES,
  type ArchitectureSpec,
  type PreprocessMode,
  type PretrainedConfig,
  type ZooOptions,
  type CreatedModel,
} from './zoo/index.js';
export {
  applyWeights,
  readKerasH5,
  writeKerasH5,
  saveModelAsKerasH5,
  loadKerasWeightsByName,
  loadWeightsByName,
  loadTfjsWeightsByName,
  fetchWeights,
  IMAGENET_WEIGHTS,
  imagenetWeightFile,
  type LoadedWeightsInfo,
} from './weights/index.js';

// ── Transfer: cut, freeze, new head ──────────────────────────────────────────────────────────
export {
  resolveCut,
  cutModel,
  splitAt,
  addHead,
  freeze,
  unfreezeTopBlocks,
  setBatchNormInference,
  trainableLayerNames,
  buildTransferModel,
  type HeadOptions,
  type Split,
} from './transfer/index.js';
// Few-shot heads computed from embeddings (no gradient steps).
export { fewShotHead, buildHeadModel, headOnlyModel, prototypeHead, knnHead } from './heads/index.js';

// ── Data ─────────────────────────────────────────────────────────────────────────────────────
export {
  decodeImage,
  loadDataset,
  loadImageFolder,
  loadManifest,
  loadSplits,
  stratifiedSplit,
  BatchLoader,
  FeatureCache,
  DEFAULT_AUGMENT,
  augmentPixels,
  Rng,
  type Dataset,
  type DatasetItem,
  type AugmentConfig,
} from './data/index.js';

// ── Training loop & callbacks ────────────────────────────────────────────────────────────────
export type { TrainingEngine, EngineFactory, EngineOptions, OptimizerConfig, ParamGroup, StepBatch } from './train/engine.js';
export { fit, type BatchSource, type Callback, type History, type EpochLogs } from './train/fit.js';
export { constant, cosine, oneCycle, type Schedule } from './train/schedules.js';
export { progressBar, earlyStopping, checkpoint, jsonlLogger, callbackFromFns } from './train/callbacks/index.js';
export { lrFind, lrFindSvg, type LrFindResult } from './train/lr-find.js';
export { recomputeBatchNormStats } from './train/precise-bn.js';

// ── Engines & runtime settings ───────────────────────────────────────────────────────────────
export { env, refreshEnv, DEFAULTS, type GraftEnv } from './env.js';
export { initTf, type TfBackendName } from './engine/tfjs/backend.js';
export { createTfjsEngine } from './engine/tfjs/engine.js';
export { createOrtEngine } from './engine/ort-train/index.js';
// Frozen inference on onnxruntime.
export { FrozenBackbone } from './engine/ort.js';
export { exportOnnx, type ExportOptions } from './engine/onnx/export.js';

// ── Workflow verbs (what the CLI calls) ──────────────────────────────────────────────────────
// train
export { trainClassifier, type TrainResult } from './workflow/train.js';
export type { GraftEvent, GraftEventHandler, GraftProgressEvent, GraftMessageEvent, GraftTask } from './events.js';
export { parseTrainOptions, trainOptionsSchema, type TrainOptions } from './options.js';
// predict
export { Classifier, type Prediction } from './workflow/predict.js';
// evaluate
export { evaluateModelDir, type EvalResult } from './workflow/evaluate.js';
// export
export { exportModelDir } from './workflow/export.js';
// embed
export { embedImages, type EmbedResult } from './workflow/embed.js';
// adapt (unsupervised domain adaptation) and shift (is there a distribution shift between two
// folders?); named from the adapt/ barrel, not `export *`, so its helpers stay internal.
export {
  adaptModel,
  ADAPT_METHODS,
  adaBn,
  coralFold,
  pseudoLabel,
  dann,
  shiftReport,
  mmdPermutationTest,
  domainClassifierAccuracy,
  type AdaptMethod,
  type AdaptOptions,
  type AdaptResult,
  type AdaBnMode,
  type AdaBnOptions,
  type AdaBnResult,
  type BnStats,
  type CoralOptions,
  type CoralResult,
  type PseudoLabelOptions,
  type PseudoLabelRound,
  type DannOptions,
  type DannResult,
  type ConfidenceStats,
  type ShiftOptions,
  type ShiftReport,
  type ShiftVerdict,
} from './adapt/index.js';
// curve (learning curves)
export { learningCurve } from './workflow/curve.js';
// lr-find
export { findLearningRate } from './workflow/lr-find.js';
// serve (prediction server: Open Inference Protocol v2, :classify, /predictions)
export { createServer, SERVE_DEFAULTS, type GraftServer, type ServeOptions, type ServeModel } from './serve/index.js';

// studio (the local web app: label, train, inspect, try; graft studio)
export { createStudio, type Studio, type StudioOptions } from './studio/server.js';

// ── Evaluation & reports ─────────────────────────────────────────────────────────────────────
export { evaluateProbs, type Evaluation } from './evaluate/metrics.js';
export { renderReport, type ReportData } from './evaluate/report/index.js';

// ── IO: model directories, graft.json, TF.js files ───────────────────────────────────────────
export { saveModelDir, loadModelDir } from './io/model-dir.js';
export { isGraftModelDir } from './backbones/graft-dir.js';
export { readManifest, manifestSchema, type GraftManifest } from './io/manifest.js';
export { fileSaveHandler, fileLoadHandler } from './io/tfjs-files.js';

// ── Errors ───────────────────────────────────────────────────────────────────────────────────
export { GraftError, isGraftError, ERROR_CODES, type ErrorCode } from './errors.js';
