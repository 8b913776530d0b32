import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';

/** One stored weight array, as read from a weight file (Keras `.h5`, TF.js shards, nsfwjs). */
export interface WeightEntry {
  /** Name as stored, e.g. `conv1/kernel:0` (Keras) or `conv1/kernel` (TF.js). */
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Weights of a file, by layer name, in the file's layer order. */
export type LayerWeightsMap = Map<string, WeightEntry[]>;

export interface LoadByNameOptions {
  /**
   * Keras `by_name=True, skip_mismatch=True`: layers that cannot be loaded (absent from the file,
   * different weight count or shape) keep their current values and are reported in `skipped`;
   * file layers without a model layer are reported in `unused`. Without it, every problem is
   * collected and thrown as one GraftError.
   */
  skipMismatch?: boolean;
  /**
   * Allow file layers that have no model layer (reported in `unused`) without `skipMismatch`.
   * Used when a head is dropped on purpose (nsfwjs' 5-class top on a headless backbone).
   */
  allowExtra?: boolean;
  /**
   * Pair Keras auto-named layers whose numbering differs (`conv2d_1` … in Keras 2.0 files vs
   * `conv2d`, `conv2d_1` … in TF2) by their order of creation within the same prefix. Keras'
   * applications load such files topologically, not by name; this is the by-name equivalent.
   * Default true.
   */
  matchAutoNames?: boolean;
  /**
   * Model layers to leave as they are and not look for in the file: a new head (e.g. a
   * `predictions` layer for another class count). Reported in `skipped`.
   */
  keep?: readonly string[];
}

export interface LoadByNameResult {
  /** Model layers whose weights were set. */
  loaded: string[];
  /** Model layers left unchanged (only with `skipMismatch`), with the reason. */
  skipped: string[];
  /** File layers that no model layer took (extra layers, a dropped head). */
  unused: string[];
  /** `fileLayer -> modelLayer` pairs matched by auto-name ordinal rather than exact name. */
  renamed: string[];
}

/** Keras' automatic layer-name prefixes; only these are paired by ordinal. */
const AUTO_PREFIXES = new Set([
  'conv1d', 'conv2d', 'conv3d', 'conv2d_transpose', 'depthwise_conv2d', 'separable_conv2d',
  'batch_normalization', 'layer_normalization', 'dense', 'normalization', 'embedding', 'prelu',
]);

function autoName(name: string): { prefix: string; n: number } | undefined {
  const m = /^(.*?)(?:_(\d+))?$/.exec(name);
  if (!m || !AUTO_PREFIXES.has(m[1])) return undefined;
  return { prefix: m[1], n: m[2] === undefined ? 0 : Number(m[2]) };
}

/** `conv1/kernel:0` and `conv1/kernel_3` (a TF.js uniquified name) both give `kernel`. */
export function weightSuffix(name: string): string {
  const last = name.split('/').pop() ?? name;
  return last.replace(/:\d+$/, '').replace(/_\d+$/, '');
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function sameShape(a: readonly (number | null)[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Order a file layer's entries like the model layer's weights: by weight-name suffix (`kernel`,
 * `bias`, `gamma`, `moving_mean`, `depthwise_kernel` …) where every suffix matches one-to-one,
 * else by position (what Keras itself does). Returns a problem string when neither works.
 */
function alignEntries(layer: tf.layers.Layer, entries: WeightEntry[]): WeightEntry[] | string {
  const want = layer.weights;
  if (want.length !== entries.length) {
    return `layer "${layer.name}": model has ${want.length} weights (${want.map((w) => weightSuffix(w.originalName)).join(', ')}), file has ${entries.length} (${entries.map((e) => weightSuffix(e.name)).join(', ')})`;
  }
  const bySuffix = new Map<string, WeightEntry>();
  for (const e of entries) bySuffix.set(weightSuffix(e.name), e);
  const ordered =
    bySuffix.size === entries.length && want.every((w) => bySuffix.has(weightSuffix(w.originalName)))
      ? want.map((w) => bySuffix.get(weightSuffix(w.originalName)) as WeightEntry)
      : entries;
  const bad: string[] = [];
  want.forEach((w, i) => {
    if (!sameShape(w.shape, ordered[i].shape)) {
      bad.push(`${weightSuffix(w.originalName)}: expected ${fmt(w.shape as number[])}, got ${fmt(ordered[i].shape)} (${ordered[i].name})`);
    }
  });
  return bad.length ? `layer "${layer.name}": shape mismatch — ${bad.join('; ')}` : ordered;
}

/**
 * Pair auto-named layers by creation ordinal within each prefix, when both sides have the same
 * number of them. Done before exact matching because the numbering of one side can collide with
 * the other's shifted by one (`conv2d_1` is the first conv in a Keras 2.0 file, the second in TF2).
 * Where both sides use the same names this pairing equals the exact one.
 */
function pairAutoNames(modelLayers: tf.layers.Layer[], fileNames: string[]): Map<string, string> {
  const group = <T>(items: T[], name: (t: T) => string) => {
    const g = new Map<string, { n: number; item: T }[]>();
    for (const it of items) {
      const a = autoName(name(it));
      if (!a) continue;
      if (!g.has(a.prefix)) g.set(a.prefix, []);
      g.get(a.prefix)!.push({ n: a.n, item: it });
    }
    for (const v of g.values()) v.sort((x, y) => x.n - y.n);
    return g;
  };
  const gm = group(modelLayers, (l) => l.name);
  const gf = group(fileNames, (n) => n);
  const pairs = new Map<string, string>();
  for (const [prefix, ms] of gm) {
    const fs = gf.get(prefix);
    if (!fs || fs.length !== ms.length) continue;
    ms.forEach((m, i) => pairs.set(m.item.name, fs[i].item));
  }
  return pairs;
}

function setAll(plan: { layer: tf.layers.Layer; entries: WeightEntry[] }[]): void {
  for (const { layer, entries } of plan) {
    // Keep each variable's dtype (Normalization's `count` is int32); files store floats.
    const tensors = entries.map((e, i) =>
      layer.weights[i].dtype === 'int32' ? tf.tensor(Int32Array.from(e.data, Math.round), e.shape, 'int32') : tf.tensor(e.data, e.shape, 'float32'),
    );
    try {
      layer.setWeights(tensors);
    } finally {
      tensors.forEach((t) => t.dispose());
    }
  }
}

/**
 * Copy weights into `model` by layer name (Keras `load_weights(by_name=True)`), all-or-nothing:
 * every problem is collected first, and nothing is written unless there are none (or
 * `skipMismatch` is set). Within a layer, weights map by name suffix, not position.
 *
 * @example
 * const weights = await readKerasH5('resnet50_notop.h5');
 * const r = loadWeightsByName(model, weights, { skipMismatch: true });
 * console.log(r.loaded.length, 'layers loaded; skipped:', r.skipped);
 */
export function loadWeightsByName(model: tf.LayersModel, weights: LayerWeightsMap, opts: LoadByNameOptions = {}): LoadByNameResult {
  const keep = new Set(opts.keep ?? []);
  const withWeights = model.layers.filter((l) => l.weights.length > 0 && !keep.has(l.name));
  const fileLayers = [...weights.keys()].filter((k) => (weights.get(k) ?? []).length > 0);
  const paired = opts.matchAutoNames === false ? new Map<string, string>() : pairAutoNames(withWeights, fileLayers);
  const taken = new Set(paired.values());
  const source = (layer: tf.layers.Layer): string | undefined =>
    paired.get(layer.name) ?? (weights.has(layer.name) && !taken.has(layer.name) ? layer.name : undefined);

  const problems: string[] = [];
  const skipped: string[] = model.layers
    .filter((l) => keep.has(l.name) && l.weights.length > 0)
    .map((l) => `layer "${l.name}" kept as initialised (new head)`);
  const plan: { layer: tf.layers.Layer; entries: WeightEntry[] }[] = [];
  const used = new Set<string>();
  for (const layer of withWeights) {
    const src = source(layer);
    if (src === undefined) {
      const why = `layer "${layer.name}" (${layer.getClassName()}, ${layer.weights.length} weights) is missing from the file`;
      if (opts.skipMismatch) skipped.push(why);
      else problems.push(why);
      continue;
    }
    used.add(src);
    const aligned = alignEntries(layer, weights.get(src) ?? []);
    if (typeof aligned === 'string') {
      const why = src === layer.name ? aligned : `${aligned} (file layer "${src}")`;
      if (opts.skipMismatch) skipped.push(why);
      else problems.push(why);
      continue;
    }
    plan.push({ layer, entries: aligned });
  }
  const unused = fileLayers.filter((n) => !used.has(n));
  if (unused.length && !opts.skipMismatch && !opts.allowExtra) {
    problems.push(`the file has ${unused.length} layer(s) with no layer of that name in the model: ${unused.join(', ')}`);
  }
  if (problems.length) {
    throw new GraftError(
      'E_WEIGHTS_MISMATCH',
      `Cannot load weights into model "${model.name}" by layer name: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`,
      'Check that the weights were saved from the same architecture and options (includeTop, classes, inputShape), or pass skipMismatch: true to load what matches and skip the rest (Keras by_name=True, skip_mismatch=True).',
    );
  }
  setAll(plan);
  const renamed = plan
    .filter(({ layer }) => source(layer) !== layer.name)
    .map(({ layer }) => `${source(layer)} -> ${layer.name}`);
  return { loaded: plan.map((p) => p.layer.name), skipped, unused, renamed };
}

/**
 * Keras' default for legacy `.h5` files (`load_weights` without `by_name`): pair the model's
 * layers that have weights with the file's, in order, ignoring names. Keras Applications load
 * their ImageNet files this way, so files whose names drifted from today's Keras code (e.g.
 * MobileNetV2's classifier `Logits`, now `predictions`) still load. All-or-nothing.
 *
 * @example
 * const r = loadWeightsInOrder(model, await readKerasH5('mobilenet_v2_….h5'));
 */
export function loadWeightsInOrder(model: tf.LayersModel, weights: LayerWeightsMap): LoadByNameResult {
  const layers = model.layers.filter((l) => l.weights.length > 0);
  const fileLayers = [...weights.keys()].filter((k) => (weights.get(k) ?? []).length > 0);
  if (layers.length !== fileLayers.length) {
    throw new GraftError(
      'E_WEIGHTS_MISMATCH',
      `Layer count mismatch when loading weights in order into model "${model.name}": the model has ${layers.length} layers with weights, the file ${fileLayers.length}.`,
      'The file was saved from another architecture or other options (includeTop, classes).',
    );
  }
  const problems: string[] = [];
  const plan: { layer: tf.layers.Layer; entries: WeightEntry[] }[] = [];
  layers.forEach((layer, i) => {
    const aligned = alignEntries(layer, weights.get(fileLayers[i]) ?? []);
    if (typeof aligned === 'string') problems.push(`${aligned} (file layer "${fileLayers[i]}")`);
    else plan.push({ layer, entries: aligned });
  });
  if (problems.length) {
    throw new GraftError('E_WEIGHTS_MISMATCH', `Cannot load weights in order into model "${model.name}": ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`, 'The file was saved from another architecture or other options (includeTop, classes, inputShape).');
  }
  setAll(plan);
  return {
    loaded: plan.map((p) => p.layer.name),
    skipped: [],
    unused: [],
    renamed: layers.flatMap((l, i) => (fileLayers[i] === l.name ? [] : [`${fileLayers[i]} -> ${l.name}`])),
  };
}
