/**
 * Graft's public surface. Everything the CLI does is reachable from here.
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
export { GraftError, isGraftError } from './errors.js';
export { env, refreshEnv, type GraftEnv } from './env.js';
export { initTf, type TfBackendName } from './engine/backend.js';

// Model zoo
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

// Weights
export {
  applyWeights,
  readKerasH5,
  writeKerasH5,
  saveModelAsKerasH5,
  loadKerasWeightsByName,
  loadWeightsByName,
  fetchWeights,
  IMAGENET_WEIGHTS,
  imagenetWeightFile,
  loadTfjsWeightsByName,
  type LoadedWeightsInfo,
} from './weights/index.js';

// Frozen inference on onnxruntime
export { exportOnnx, type ExportOptions } from './engine/onnx-export.js';
export { FrozenBackbone, createSession } from './engine/ort.js';
export { registerWasmGradKernels } from './engine/wasm-grads.js';

// Data
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

// Model surgery
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

// Training
export type { TrainingEngine, EngineFactory, EngineOptions, OptimizerConfig, ParamGroup, StepBatch } from './train/engine.js';
export { createTfjsEngine } from './train/tfjs-engine.js';
export { fit, type BatchSource, type Callback, type History, type EpochLogs } from './train/fit.js';
export { constant, cosine, oneCycle, type Schedule } from './train/schedules.js';
export { progressBar, earlyStopping, checkpoint, jsonlLogger, callbackFromFns } from './train/callbacks/index.js';
export { lrFind, lrFindSvg, type LrFindResult } from './train/lr-find.js';

// Evaluation
export { evaluateProbs, type Evaluation } from './evaluate/metrics.js';
export { renderReport, type ReportData } from './evaluate/report/index.js';

// The workflow (what the CLI verbs call)
export { trainClassifier, prepareData, type TrainResult, type TrainEvent } from './pipeline/train.js';
export { parseTrainOptions, trainOptionsSchema, type TrainOptions } from './pipeline/options.js';
export { Classifier, type Prediction } from './pipeline/predict.js';
export { evaluateModelDir, type EvalResult } from './pipeline/evaluate.js';
export { exportModelDir } from './pipeline/export.js';
export { embedImages, type EmbedResult } from './pipeline/embed.js';
export { findLearningRate } from './pipeline/lr-find.js';
export { saveModelDir, loadModelDir } from './pipeline/model-dir.js';
export { readManifest, manifestSchema, type GraftManifest } from './io/manifest.js';
export { fileSaveHandler, fileLoadHandler } from './io/tfjs-files.js';
export { atomicWrite } from './io/atomic.js';
export * from './adapt/index.js';
export { fewShotHead, buildHeadModel, headOnlyModel, prototypeHead, knnHead } from './heads/index.js';
export { learningCurve } from './pipeline/curve.js';
export { resolveGraftBackbone, isGraftModelDir } from './pipeline/chain.js';
export { createOrtEngine } from './engine/ort-train/index.js';
export { recomputeBatchNormStats } from './train/precise-bn.js';
export { chainOnnx } from './engine/onnx-compose.js';
export { seedWeights } from './transfer/seed.js';
