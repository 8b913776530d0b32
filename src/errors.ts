/**
 * Every code a {@link GraftError} may carry, with when it is raised. The catalogue is the contract:
 * `GraftError` only accepts a key of it (an unknown code fails to compile), and
 * test/errors.test.ts checks that every code in src/ is listed here and every entry is used.
 * A code marked `@deprecated` is kept only until its last use is renamed to the one it names.
 */
export const ERROR_CODES = Object.freeze({
  // ── options: CLI flags, config files, option objects ────────────────────────────────────────
  E_BAD_OPTIONS: 'An option or CLI flag has an invalid value (type, range or combination).',
  E_BAD_CONFIG: 'A config file (--config) cannot be parsed as JSON or YAML, or its top level is not an object.',
  E_NO_CONFIG: 'The config file given with --config does not exist.',
  E_BAD_NUMBER: 'A CLI flag that expects a number received text that is not one.',
  E_FINE_TUNE_BLOCKS: '--fine-tune-blocks asks for more blocks than the architecture has, or the backbone has no known blocks.',
  E_EXPORT_FORMAT: 'graft export was asked for a format other than tfjs or onnx.',

  // ── data: image folders, manifests, splits, augmentation, feature cache ─────────────────────
  E_DATA_NOT_FOUND: 'The data folder or manifest file does not exist.',
  E_DATA_NOT_A_FOLDER: 'The data path is a file but a folder of class folders was expected.',
  E_DATA_SPLIT_LAYOUT: 'The data folder holds split folders (train/val/test) where class folders were expected.',
  E_DATA_EMPTY_CLASS: 'A class folder or manifest class has no usable image.',
  E_DATA_NO_CLASSES: 'The dataset has no class at all (no class folders or labels).',
  E_DATA_ONE_CLASS: 'The dataset has a single class; a classifier needs at least two.',
  E_DATA_MANIFEST: 'A CSV/JSON data manifest is malformed or uses labels outside its declared classes.',
  E_DATA_UNKNOWN_CLASSES: 'A validation or test set has classes the training set lacks.',
  E_DATA_MANIFEST_OUTSIDE: 'A relative manifest entry points outside the manifest\'s folder.',
  E_DATA_CONFLICTING_LABELS: 'The same image (by content) is listed under two or more classes.',
  E_OUT_BUSY: 'Another Graft process is training into the same --out right now.',
  E_RESUME_MISMATCH: 'The checkpoint beside --out belongs to a run with other data or options; --resume refuses it.',
  E_RESUME_NONE: '--resume was given but there is no checkpoint of this run beside --out.',
  E_CHECKPOINT_DAMAGED: 'A training checkpoint is unreadable or fails its checksum; --resume refuses it (without --resume the run starts over).',
  E_NONFINITE_LOSS: 'A training stage produced a non-finite loss; training stops and no model is written.',
  E_NONFINITE_FEATURES: 'The frozen backbone produced a non-finite feature; no model is written.',
  E_DATA_NO_VALIDATION: 'The validation split holds no image (the dataset is too small for valSplit).',
  E_BAD_SPLIT: 'Split fractions are negative or sum to 1 or more.',
  E_BAD_AUGMENT: 'An augmentation setting is out of range (crop scale/ratio, negative strengths).',
  E_CACHE_KEY: 'A feature-cache key is not a hex digest.',
  E_CACHE_SHAPE: 'A feature-cache shape is not positive integers, or written rows do not fill it.',
  E_CACHE_ENDIAN: 'The feature cache (little-endian float32) was opened on a big-endian machine.',

  // ── zoo: architectures, their options and blocks, preprocessing, decoding ───────────────────
  E_UNKNOWN_MODEL: 'The architecture name is not in the model registry.',
  E_DUPLICATE_MODEL: 'registerModel was called with a name that is already registered.',
  E_UNKNOWN_WEIGHTS: 'The architecture has no pretrained weights of the requested name.',
  E_UNKNOWN_BLOCK: "The architecture has no block of the requested name (blockOutput).",
  E_INPUT_SHAPE: 'inputShape is malformed, not 3-channel, below the minimum size, or not the default with includeTop.',
  E_PREPROCESS: 'An unknown preprocessing mode, or pixels/input that do not fit it (not RGB, wrong output length).',
  E_DECODE: 'decodePredictions got probabilities or class names that do not fit numClasses.',

  // ── weights: sources, download cache, file formats, loading ─────────────────────────────────
  E_WEIGHTS_SOURCE: 'The weights option names no known source, or one this architecture does not publish.',
  E_WEIGHTS_NOT_FOUND: 'No weights file exists at the given path.',
  E_WEIGHTS_UNAVAILABLE: 'Weights are not cached and cannot be downloaded (offline, failed download, or a missing package).',
  E_WEIGHTS_HASH: 'A downloaded weights file does not match its published hash.',
  E_WEIGHTS_FORMAT: 'A weights file is not a valid Keras .h5 or TF.js model.json/shard set.',
  E_WEIGHTS_CLASSES: "weights: 'imagenet' with includeTop: true needs classes: 1000.",
  E_WEIGHTS_DAMAGED: 'A weights file has the right signature but cannot be read (truncated or damaged).',
  E_WEIGHTS_MISMATCH: "Given weights do not fit the model's weights (layer names, count or shapes differ).",
  E_WEIGHTS_WRITE: 'A weight cannot be written to a Keras .h5 file (invalid or duplicate HDF5 path).',

  // ── transfer: cutting, freezing and heading a backbone ──────────────────────────────────────
  E_UNKNOWN_CUT: 'The cut names no layer or block of the model.',
  E_CUT_AMBIGUOUS: 'The cut layer yields several tensors (shared or multi-output); a cut needs exactly one.',
  E_CUT_AT_INPUT: "The cut is at the model's input, so the cut or frozen part would be empty.",
  E_CUT_AT_OUTPUT: "The split is at the model's output, so the trainable top would be empty.",
  E_CUT_CROSSES_SKIP: 'A skip connection crosses the split point, so no single tensor separates the two parts.',
  E_FREEZE_OPTIONS: 'freeze() got none or more than one of all, upTo, from.',
  E_FREEZE_BLOCKS: 'unfreezeTopBlocks got a block count that is not an integer from 0 to the number of blocks.',
  E_FREEZE_POLICY: 'The freeze policy is not one of the known forms.',
  E_FREEZE_NOTHING_TRAINS: 'The freeze policy leaves no trainable layer.',
  E_FREEZE_NOT_SPLITTABLE: 'The frozen part ends at several tensors, so it cannot be split off as one activation.',
  E_HEAD_CLASSES: 'A head was asked for fewer than 2 classes or a non-integer count.',
  E_HEAD_HIDDEN: 'Head hidden layer sizes are not positive integers.',
  E_HEAD_DROPOUT: 'Head dropout is outside [0, 1).',
  E_HEAD_ACTIVATION: 'Unknown head activation.',
  E_HEAD_POOLING: "Unknown head pooling, or pooling 'none' on a base whose output is not 2-D.",
  E_HEAD_INPUT: "A head's base has several outputs, an unsupported rank, or features of another shape.",
  E_HEAD_EXISTS: 'The model already carries a Graft head.',

  // ── heads: few-shot (prototype, kNN) heads ──────────────────────────────────────────────────
  E_HEAD_KIND: 'Unknown few-shot head kind.',
  E_HEAD_NO_DATA: 'A few-shot head was given no labelled support features.',
  E_HEAD_EMPTY_CLASS: 'A few-shot head has a class without any support example.',
  E_HEAD_K: 'kNN head k is not a positive integer.',
  E_HEAD_SCALE: "The prototype head's scale is not > 0.",
  E_HEAD_FEW_SHOT: 'A prototype/kNN head was asked for gradient training (fine-tuning, augmentation, scratch weights, train steps).',

  // ── engine: ONNX export, ONNX Runtime inference ─────────────────────────────────────────────
  E_ONNX_UNSUPPORTED: 'A layer, activation, padding or axis has no ONNX conversion.',
  E_ONNX_WEIGHTS: 'A layer lacks a weight the ONNX exporter needs (the model is not built).',
  E_ONNX_OUTPUT: 'The requested ONNX output names no layer or graph value, or an ambiguous one.',
  E_ONNX_MISMATCH: 'The exported ONNX graph differs numerically from the TF.js model (a Graft bug).',
  E_ONNX_READ: 'An ONNX file is missing, unreadable or has no graph.',
  E_ONNX_INPUT: 'A frozen ONNX backbone does not have exactly one fixed-size image input.',
  E_ONNX_LAYOUT: "The ONNX input's layout (NCHW or NHWC) cannot be told from its shape.",
  E_PERMUTE_RANK: 'permute() (weight layout conversion) was given a shape that is not rank 4.',
  E_BATCH_SHAPE: 'A batch buffer does not fill its declared shape, or its label count differs from its rows.',

  // ── engine: training engines (ORT and TF.js) ────────────────────────────────────────────────
  E_ORT_TRAIN_UNSUPPORTED: 'The ORT training engine cannot differentiate a layer or model form (callers fall back to TF.js).',
  E_ORT_TRAIN_INTERNAL: 'The ORT training compiler lost track of a parameter (a Graft bug).',
  E_ENGINE_DISPOSED: 'A training engine was used after dispose().',
  E_OPTIMIZER: 'Unknown optimizer type, or an optimizer setting that is not a finite number >= 0.',
  E_PARAM_GROUP: 'A parameter group has a bad lrMultiplier, names a missing layer, or overlaps another group.',
  E_CLASS_WEIGHTS: 'classWeights is not one number >= 0 per class.',
  E_LABEL_SMOOTHING: 'labelSmoothing is outside [0, 1).',
  E_MICRO_BATCH: 'microBatch is not a positive integer.',
  E_LABEL: 'A class label is outside 0..numClasses-1.',
  E_HEAD_OUTPUT: 'The trainable model does not end in one [batch, classes] softmax/linear output.',

  // ── training: fit loop, schedules, callbacks, learning-rate finder ──────────────────────────
  E_BAD_EPOCHS: 'epochs is not an integer >= 1, or initialEpoch is outside [0, epochs).',
  E_EMPTY_DATA: 'The training source yields no batch.',
  E_BAD_LR: 'A learning rate, or the learning-rate finder range and settings, is invalid.',
  E_BAD_SCHEDULE: 'A learning-rate schedule setting is out of range.',
  E_BAD_CALLBACK: 'A callback hook is unknown or not a function, or a callback option is out of range.',
  E_BAD_MONITOR: 'A monitored metric is unknown or absent from the epoch logs, or minDelta is invalid.',
  E_LR_FIND: 'The learning-rate finder recorded too few steps to suggest a rate.',

  // ── evaluate: metrics ───────────────────────────────────────────────────────────────────────
  E_BAD_METRIC_INPUT: 'Metric inputs disagree in length or hold labels, k or numClasses out of range.',

  // ── curve: learning curves ──────────────────────────────────────────────────────────────────
  E_CURVE_BUDGETS: '--labels-per-class is not a comma-separated list of positive integers or "all".',
  E_CURVE_METHOD: 'Unknown learning-curve method.',
  E_CURVE_SEEDS: '--seeds is not a positive integer.',

  // ── io: output targets, model directories, exports ──────────────────────────────────────────
  E_MODEL_DIR_DAMAGED: 'A model directory file cannot be loaded (missing, truncated or corrupt).',
  E_MODEL_DIR_MISMATCH: 'graft.json and the network in a model directory disagree (class count, input size).',
  E_OUT_EXISTS: 'The output path already holds something Graft will not replace (without --force).',
  E_OUT_PROTECTED: 'The output path is, holds or lies inside data the command reads.',
  E_NOT_A_MODEL_DIR: 'A directory expected to be a Graft model directory has no graft.json.',
  E_BAD_MANIFEST: "A model directory's graft.json is not valid JSON or does not match the schema.",
  E_NO_MODEL: 'No TF.js model.json exists at the given path.',
  E_NO_ONNX: 'A model directory lacks the ONNX model a command needs.',
  E_ONNX_FROZEN_ONLY: 'Fine-tuning was asked of an ONNX backbone, which is frozen only.',
  E_CHAIN_CUT: "A chained model directory's graft.json records a cut layer its model.json lacks.",
  E_CHAIN_ONNX: 'A model trained on an ONNX backbone was given as a backbone (its model.json is a head only).',

  // ── adapt: domain adaptation and shift tests ────────────────────────────────────────────────
  E_ADAPT_METHOD: 'Unknown adaptation method.',
  E_ADAPT_OUT: 'The adapted model would overwrite its source model directory.',
  E_ADAPT_NO_IMAGES: 'The target folder holds no (decodable) image.',
  E_ADAPT_NO_SOURCE: 'The labelled source images an adaptation method needs were not found.',
  E_ADAPT_LAYER: 'The adaptation layer is not a single tensor of the model.',
  E_ADAPT_ONNX_BACKBONE: 'Adaptation was asked of a model trained on an ONNX backbone (its model.json is the head only).',
  E_ADABN_AXIS: 'AdaBN met a BatchNormalization that is not channels-last.',
  E_ADABN_NO_BN: 'AdaBN found no BatchNormalization layer to adapt.',
  E_ADABN_SOURCE: "AdaBN mode 'anchored' got no source images.",
  E_CORAL_HEAD: 'CORAL found no first Dense layer in the head to fold into, or its input size differs from the features.',
  E_CORAL_LAMBDA: "CORAL's shrinkage lambda is not > 0.",
  E_CORAL_DATA: 'CORAL got fewer than 2 source or 2 target images.',
  E_DANN_FEATURES: 'DANN needs pooled (2-D) feature vectors.',
  E_DANN_DATA: 'DANN got no source or no target images.',
  E_PSEUDO_THRESHOLD: 'The pseudo-label threshold is outside [0, 1).',
  E_PSEUDO_ROUNDS: 'Pseudo-label rounds is not an integer >= 1.',
  E_SHIFT_EMBEDDER: 'The shift test embedder is neither a Graft model directory nor a zoo backbone.',
  E_SHIFT_KIND: 'Unknown constructed (synthetic) shift.',
  E_SHIFT_SMALL: 'A shift test folder has fewer than 4 readable images.',

  // ── serve: the prediction server ────────────────────────────────────────────────────────────
  E_SERVE_DUPLICATE_NAME: 'Two models given to graft serve / createServer have the same name.',
  E_SERVE_WORKER: "A model's inference worker thread died or failed to start; the model must be reloaded.",
  // ── studio: the local labelling and training app ────────────────────────────────────────────
  E_STUDIO_BAD_NAME: 'A class name or uploaded file name given to graft studio is empty, hidden, too long or holds a path separator (path traversal refused).',
  E_STUDIO_NOT_FOUND: 'A class, image, trash entry or model version named in a studio request does not exist in the project.',
  E_STUDIO_EXISTS: 'A studio request would create a class that already exists.',
  E_STUDIO_BUSY: 'A studio training run or adaptation is already in progress (one at a time), or none is running to cancel.',
  E_STUDIO_ADAPT: 'graft adapt, run by the studio on a deployment folder, failed (the message says why); no version was added.',
});

/** A catalogued error code: a key of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The one error class Graft throws. `code` is stable and machine-readable (a key of
 * {@link ERROR_CODES}); `message` states the rule and echoes what was received; `hint` says what
 * to change.
 *
 * @example
 * throw new GraftError('E_UNKNOWN_MODEL', `Unknown model "${name}".`, `Should be one of: ${names.join(', ')}`);
 */
export class GraftError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  constructor(code: ErrorCode, message: string, hint?: string) {
    super(hint ? `${message}\n  hint: ${hint}` : message);
    this.name = 'GraftError';
    this.code = code;
    this.hint = hint;
  }
}

export function isGraftError(e: unknown): e is GraftError {
  return e instanceof GraftError;
}
