import type * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { GraftError } from '../errors.js';
import { loadWeightsByName, weightSuffix, type LayerWeightsMap, type LoadByNameOptions, type LoadByNameResult, type WeightEntry } from './by-name.js';

// h5wasm's Node build reads and writes the host file system directly (Emscripten NODERAWFS).
type H5 = typeof import('h5wasm/node');
let h5: Promise<H5> | undefined;
async function h5wasm(): Promise<H5> {
  h5 ??= import('h5wasm/node').then(async (m) => {
    await m.ready;
    return m;
  });
  return h5;
}

/**
 * HDF5 object headers hold at most 64 KB of attributes, so Keras splits long name lists into
 * `layer_names0`, `layer_names1`, … (keras `save_attributes_to_hdf5_group`). Same limit here.
 */
const HDF5_OBJECT_HEADER_LIMIT = 64512;

type Attrs = Record<string, { value: unknown }>;

function toStrings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (v instanceof Uint8Array) return [new TextDecoder().decode(v).replace(/\0+$/, '')];
  if (Array.isArray(v)) return v.flatMap(toStrings);
  return []; // Keras writes an empty float array for a layer without weights.
}

/** Read a possibly chunked string-list attribute, as Keras' `load_attributes_from_hdf5_group`. */
function readNames(attrs: Attrs, name: string): string[] | undefined {
  if (name in attrs) return toStrings(attrs[name].value);
  if (!(`${name}0` in attrs)) return undefined;
  const out: string[] = [];
  for (let i = 0; `${name}${i}` in attrs; i++) out.push(...toStrings(attrs[`${name}${i}`].value));
  return out;
}

function toFloat32(v: unknown, where: string): Float32Array {
  if (v instanceof Float32Array) return v;
  if (v instanceof Float64Array || v instanceof Int32Array || v instanceof Uint8Array || v instanceof Int8Array || v instanceof Int16Array || v instanceof Uint16Array) {
    return Float32Array.from(v);
  }
  if (typeof v === 'number') return Float32Array.of(v);
  throw new GraftError('E_WEIGHTS_FORMAT', `Unsupported dataset type at ${where} in the .h5 file.`, 'Weights must be numeric arrays (float32/float64 as Keras writes them).');
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * HDF5's superblock signature sits at byte 0 or 512, 1024, 2048 … (after a user block).
 * Checked up front because h5wasm "opens" any file and fails later without a useful message.
 */
function isHdf5(file: string): boolean {
  return superblockAt(file) !== undefined;
}

function superblockAt(file: string): number | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(8);
    for (let off = 0; off + 8 <= size; off = off === 0 ? 512 : off * 2) {
      fs.readSync(fd, buf, 0, 8, off);
      if (buf.equals(HDF5_SIGNATURE)) return off;
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The file's length as its superblock records it (the end-of-file address plus the base
 * address), or undefined when the superblock is of a version not read here. A file shorter
 * than that was cut off (an interrupted download or copy): it is refused before h5wasm opens
 * it, because HDF5 then prints dozens of diagnostic lines on stderr that nothing can silence.
 * Layouts: HDF5 File Format Specification, "Superblock" versions 0–3.
 */
export function hdf5RecordedLength(file: string): { recorded: number; actual: number } | undefined {
  const at = superblockAt(file);
  if (at === undefined) return undefined;
  const fd = fs.openSync(file, 'r');
  try {
    const actual = fs.fstatSync(fd).size;
    const b = Buffer.alloc(96);
    const n = fs.readSync(fd, b, 0, b.length, at);
    const version = b[8]!;
    let sizeOfOffsets: number;
    let baseAt: number;
    let eofAt: number;
    if (version === 0 || version === 1) {
      sizeOfOffsets = b[13]!;
      baseAt = version === 0 ? 24 : 28;
      eofAt = baseAt + 2 * sizeOfOffsets;
    } else if (version === 2 || version === 3) {
      sizeOfOffsets = b[9]!;
      baseAt = 12;
      eofAt = baseAt + 2 * sizeOfOffsets;
    } else return undefined;
    if (![4, 8].includes(sizeOfOffsets) || eofAt + sizeOfOffsets > n) return undefined;
    const read = (o: number) => (sizeOfOffsets === 8 ? Number(b.readBigUInt64LE(o)) : b.readUInt32LE(o));
    const base = read(baseAt);
    const eof = read(eofAt);
    return Number.isSafeInteger(base + eof) ? { recorded: base + eof, actual } : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Write bytes to a temp file so h5wasm (file-based) can open them. */
function bytesToTempFile(bytes: Uint8Array | ArrayBuffer): string {
  const p = path.join(os.tmpdir(), `graft-h5-${process.pid}-${crypto.randomBytes(6).toString('hex')}.h5`);
  fs.writeFileSync(p, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  return p;
}

/**
 * Read a Keras 2 weights file (`save_weights` / the `model_weights` group of a full-model `.h5`)
 * into plain arrays by layer name, in the file's layer order. A pure function of the file.
 *
 * @example
 * const w = await readKerasH5('resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5');
 * w.get('conv1_conv')?.map((e) => `${e.name} ${e.shape}`); // ['conv1_conv/kernel:0 7,7,3,64', 'conv1_conv/bias:0 64']
 */
export async function readKerasH5(source: string | Uint8Array | ArrayBuffer): Promise<LayerWeightsMap> {
  const { File } = await h5wasm();
  const file = typeof source === 'string' ? source : bytesToTempFile(source);
  if (typeof source === 'string' && !fs.existsSync(source)) {
    throw new GraftError('E_WEIGHTS_NOT_FOUND', `No weights file at ${source}.`, 'Give the path of a Keras .h5 weights file.');
  }
  let f: InstanceType<H5['File']> | undefined;
  try {
    if (!isHdf5(file)) {
      throw new GraftError('E_WEIGHTS_FORMAT', `${typeof source === 'string' ? source : 'The given bytes'} is not an HDF5 file (no HDF5 signature).`, 'Give a Keras .h5 weights file (model.save_weights("w.h5") in Keras 2, or a Keras Applications download).');
    }
    const len = hdf5RecordedLength(file);
    if (len && len.actual < len.recorded) {
      throw new GraftError('E_WEIGHTS_DAMAGED', `${typeof source === 'string' ? source : 'The given bytes'} is cut off: ${len.actual} of the ${len.recorded} bytes its HDF5 superblock records.`, 'The file is truncated (an interrupted download or copy?): download or save it again.');
    }
    f = new File(file, 'r');
    let root = f as InstanceType<H5['Group']>;
    let layerNames = readNames(root.attrs as Attrs, 'layer_names');
    if (!layerNames && root.keys().includes('model_weights')) {
      root = root.get('model_weights') as InstanceType<H5['Group']>;
      layerNames = readNames(root.attrs as Attrs, 'layer_names');
    }
    if (!layerNames) {
      throw new GraftError(
        'E_WEIGHTS_FORMAT',
        `${typeof source === 'string' ? source : 'The given .h5 bytes'} has no "layer_names" attribute (at the root or in "model_weights"), so it is not a Keras 2 weights file. Top-level entries: ${f.keys().join(', ') || '(none)'}.`,
        'Keras 3 ".weights.h5" files use another layout: re-save with a Keras 2 style save_weights("w.h5") or export the model to TF.js (model.json).',
      );
    }
    const out: LayerWeightsMap = new Map();
    for (const layer of layerNames) {
      const g = root.get(layer) as InstanceType<H5['Group']> | null;
      if (!g) throw new GraftError('E_WEIGHTS_FORMAT', `The .h5 file lists layer "${layer}" in layer_names but has no group of that name.`, 'The file is damaged or was not written by Keras.');
      const names = readNames(g.attrs as Attrs, 'weight_names') ?? [];
      const entries: WeightEntry[] = names.map((wn) => {
        const ds = g.get(wn) as InstanceType<H5['Dataset']> | null;
        if (!ds || !('shape' in ds)) throw new GraftError('E_WEIGHTS_FORMAT', `The .h5 file lists weight "${wn}" for layer "${layer}" but has no dataset there.`, 'The file is damaged or was not written by Keras.');
        return { name: wn, shape: ds.shape ?? [], data: toFloat32(ds.value, `${layer}/${wn}`) };
      });
      out.set(layer, entries);
    }
    return out;
  } catch (e) {
    if (e instanceof GraftError) throw e;
    // h5wasm's own errors ("name not defined!", …) on a truncated or damaged file: say which and why.
    throw new GraftError('E_WEIGHTS_DAMAGED', `${typeof source === 'string' ? source : 'The given .h5 bytes'} cannot be read as Keras weights: ${(e as Error).message.split('\n')[0]}.`, 'The file is truncated or damaged: download or save it again (a partial download is the usual cause).');
  } finally {
    f?.close();
    if (typeof source !== 'string') fs.rmSync(file, { force: true });
  }
}

/** Attribute of fixed-length ASCII strings, chunked like Keras when over the header limit. */
function writeNames(obj: { create_attribute: InstanceType<H5['Group']>['create_attribute'] }, name: string, values: string[]): void {
  if (values.length === 0) {
    obj.create_attribute(name, new Float64Array(0), [0]); // what Keras/h5py write for an empty list
    return;
  }
  const width = Math.max(1, ...values.map((v) => Buffer.byteLength(v))) + 1;
  const chunks = Math.ceil((width * values.length) / HDF5_OBJECT_HEADER_LIMIT);
  if (chunks <= 1) {
    obj.create_attribute(name, values, [values.length], `A${width}`);
    return;
  }
  const per = Math.ceil(values.length / chunks);
  for (let i = 0; i * per < values.length; i++) {
    const part = values.slice(i * per, (i + 1) * per);
    obj.create_attribute(`${name}${i}`, part, [part.length], `A${width}`);
  }
}

export interface KerasH5Layer {
  name: string;
  /** Keras names them `<layer>/<weight>:0`, e.g. `conv1/kernel:0`. */
  weights: WeightEntry[];
}

/**
 * Write weights in Keras 2's `save_weights` layout: root attributes `layer_names`, `backend`,
 * `keras_version`; one group per layer with attribute `weight_names`; one float32 dataset per
 * weight at that (nested) path. Written to a temp file and renamed into place.
 *
 * @example
 * await writeKerasH5('/tmp/tiny.h5', [{ name: 'dense', weights: [
 *   { name: 'dense/kernel:0', shape: [2, 1], data: new Float32Array([1, 2]) },
 *   { name: 'dense/bias:0', shape: [1], data: new Float32Array([0]) } ] }]);
 */
export async function writeKerasH5(target: string, layers: KerasH5Layer[], meta: { backend?: string; kerasVersion?: string } = {}): Promise<void> {
  const { File } = await h5wasm();
  fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
  const tmp = path.join(path.dirname(path.resolve(target)), `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const f = new File(tmp, 'w');
  try {
    writeNames(f, 'layer_names', layers.map((l) => l.name));
    f.create_attribute('backend', meta.backend ?? 'tensorflow');
    f.create_attribute('keras_version', meta.kerasVersion ?? '2.15.0');
    for (const layer of layers) {
      const g = f.create_group(layer.name);
      writeNames(g, 'weight_names', layer.weights.map((w) => w.name));
      for (const w of layer.weights) {
        const n = w.shape.reduce((a, b) => a * b, 1);
        if (n !== w.data.length) {
          throw new GraftError('E_WEIGHTS_FORMAT', `Weight "${w.name}" of layer "${layer.name}" has shape [${w.shape.join(', ')}] (${n} values) but ${w.data.length} values.`, 'Pass data whose length is the product of the shape.');
        }
        // HDF5 (as h5wasm calls it) does not create intermediate groups: `conv1/kernel:0` needs
        // the group `conv1` first, as h5py makes it.
        const parts = w.name.split('/');
        let parent = g;
        for (const p of parts.slice(0, -1)) {
          parent = (parent.keys().includes(p) ? parent.get(p) : parent.create_group(p)) as InstanceType<H5['Group']>;
        }
        const leaf = parts[parts.length - 1];
        parent.create_dataset({ name: leaf, data: w.data, shape: w.shape, dtype: '<f4' });
        // h5wasm reports HDF5 failures on stderr without throwing: check the dataset is there.
        if (!parent.keys().includes(leaf)) {
          throw new GraftError('E_WEIGHTS_WRITE', `Could not write weight "${w.name}" of layer "${layer.name}" to ${target}.`, 'Weight names must be valid HDF5 paths (no empty parts), unique within the layer.');
        }
      }
    }
  } catch (e) {
    f.close();
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  f.close();
  fs.renameSync(tmp, target);
}

/**
 * Save a TF.js layers model's weights as a Keras 2 `.h5` weights file, loadable by
 * `readKerasH5` and by Keras 2's `model.load_weights(path, by_name=True)`.
 *
 * @example
 * await saveModelAsKerasH5(model, 'out/weights.h5');
 */
export async function saveModelAsKerasH5(model: tf.LayersModel, target: string): Promise<void> {
  const layers: KerasH5Layer[] = model.layers.map((l) => ({
    name: l.name,
    weights: l.weights.map((w) => ({
      name: `${l.name}/${weightSuffix(w.originalName)}:0`,
      shape: w.shape as number[],
      data: Float32Array.from(w.read().dataSync() as Float32Array),
    })),
  }));
  await writeKerasH5(target, layers);
}

/**
 * Keras `model.load_weights(path, by_name=True[, skip_mismatch=True])` for Graft's TF.js models:
 * see {@link loadWeightsByName} for the matching rules.
 *
 * @example
 * const r = loadKerasWeightsByName(model, await readKerasH5('w.h5'), { skipMismatch: true });
 */
export function loadKerasWeightsByName(model: tf.LayersModel, weights: LayerWeightsMap, opts: LoadByNameOptions = {}): LoadByNameResult {
  return loadWeightsByName(model, weights, opts);
}
