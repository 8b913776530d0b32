import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { env } from '../env.js';
import { GraftError } from '../errors.js';

/**
 * Everything that changes a backbone's activations for the same file. Any change gives a new key,
 * hence a new cache file: stale features can never be served.
 */
export interface FeatureKeyParts {
  /** Hash of the frozen graph (e.g. sha256 of the ONNX bytes or of the layer config). */
  graphHash: string;
  /** Hash of the weights. */
  weightsHash: string;
  /** Layer/node the backbone is cut at. */
  cut: string;
  /** Preprocessing mode ('caffe' | 'tf' | 'torch' | …). */
  preprocess: string;
  /** Network input [height, width]. */
  inputSize: readonly [number, number];
  /** How images were decoded (fit, alpha, interpolation…); anything JSON-serialisable. */
  decode?: unknown;
}

/**
 * The cache key of a backbone configuration: sha256 over the parts in a fixed order.
 *
 * @example
 * const key = backboneKey({ graphHash, weightsHash, cut: 'block_13_expand_relu', preprocess: 'tf', inputSize: [224, 224] });
 */
export function backboneKey(p: FeatureKeyParts): string {
  const canonical = JSON.stringify([p.graphHash, p.weightsHash, p.cut, p.preprocess, [...p.inputSize], p.decode ?? null]);
  return crypto.createHash('sha256').update(canonical).digest('hex');
}

/** The full key of one file's features: sha256(backbone key + file content hash). */
export function featureKey(backbone: string, fileHash: string): string {
  return crypto.createHash('sha256').update(`${backbone}:${fileHash}`).digest('hex');
}

/** Where caches live unless told otherwise: `$GRAFT_HOME/features`. */
export function defaultFeatureCacheDir(): string {
  return path.join(env.home, 'features');
}

const MAGIC = 'GRAFTFC1';

interface Header {
  /** 2: with `sha256` of the feature bytes (version 1 files have none and are rebuilt). */
  version: 1 | 2;
  backboneKey: string;
  featureShape: number[];
  dtype: 'float32';
  hashes: string[];
  paths: string[];
  sha256?: string;
}

/**
 * On-disk activation cache for one backbone configuration: one file per backbone key holding a
 * float32 matrix (one row per distinct image content) and an index (content hash → row, plus
 * the path it was first seen at). Opening reads the whole file in one sequential read; `flush`
 * rewrites it atomically (temp file, fsync, rename), so a crash never leaves a torn cache. A file
 * that is unreadable or belongs to another shape is ignored (with a warning) and rebuilt.
 *
 * @example
 * const cache = await FeatureCache.open(defaultFeatureCacheDir(), key, [1280]);
 * const f = cache.get(fileHash) ?? computeAndPut();
 * cache.putMany([{ hash, path }], features);
 * await cache.flush();
 */
export class FeatureCache {
  readonly file: string;
  readonly featureShape: readonly number[];
  readonly rowSize: number;
  readonly warnings: string[] = [];
  readonly stats = { hits: 0, misses: 0 };
  private readonly index = new Map<string, { chunk: number; row: number }>();
  private readonly chunks: Float32Array[] = [];
  private readonly hashes: string[] = [];
  private readonly paths: string[] = [];
  private dirty = false;

  private constructor(file: string, featureShape: readonly number[]) {
    this.file = file;
    this.featureShape = [...featureShape];
    this.rowSize = featureShape.reduce((a, b) => a * b, 1);
  }

  /** Open (or start) the cache for `key` in `dir`. */
  static async open(dir: string, key: string, featureShape: readonly number[]): Promise<FeatureCache> {
    if (!/^[0-9a-f]{16,}$/.test(key)) throw new GraftError('E_CACHE_KEY', `A feature-cache key must be a hex digest. Received: "${key}"`, 'Build it with backboneKey({...}).');
    if (featureShape.length === 0 || !featureShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new GraftError('E_CACHE_SHAPE', `featureShape must be positive integers. Received: [${featureShape.join(', ')}]`);
    }
    if (os.endianness() !== 'LE') throw new GraftError('E_CACHE_ENDIAN', 'The feature cache stores little-endian float32 and this machine is big-endian.');
    const c = new FeatureCache(path.join(dir, `${key}.feat`), featureShape);
    let buf: Buffer;
    try {
      buf = await fs.promises.readFile(c.file);
    } catch {
      return c; // no cache yet
    }
    const problem = c.load(buf, key);
    if (problem) c.warnings.push(`Ignoring feature cache ${c.file}: ${problem}; it will be rebuilt.`);
    return c;
  }

  /** Parse a cache file; returns a problem description instead of throwing. */
  private load(buf: Buffer, key: string): string | undefined {
    if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) return 'not a Graft feature cache';
    const hlen = buf.readUInt32LE(8);
    let h: Header;
    try {
      h = JSON.parse(buf.toString('utf8', 12, 12 + hlen)) as Header;
    } catch {
      return 'unreadable index';
    }
    if (h.backboneKey !== key) return 'written for another key';
    if (h.featureShape.join('x') !== this.featureShape.join('x')) return `feature shape [${h.featureShape}] differs from [${this.featureShape}]`;
    const off = align4(12 + hlen);
    const need = h.hashes.length * this.rowSize * 4;
    if (buf.length - off !== need) return `expected ${need} bytes of features, found ${buf.length - off}`;
    // The features must be the bytes that were written: changed bytes would change every result.
    if (!h.sha256) return 'it has no checksum (written by an older Graft)';
    if (crypto.createHash('sha256').update(buf.subarray(off, off + need)).digest('hex') !== h.sha256) return 'its features do not match their checksum (the file was changed or damaged)';
    const data = (buf.byteOffset + off) % 4 === 0 ? new Float32Array(buf.buffer, buf.byteOffset + off, need / 4) : new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + need));
    this.chunks.push(data);
    h.hashes.forEach((hash, row) => {
      this.index.set(hash, { chunk: 0, row });
      this.hashes.push(hash);
      this.paths.push(h.paths[row] ?? '');
    });
    return undefined;
  }

  /** Number of cached rows. */
  get size(): number {
    return this.hashes.length;
  }

  /** Whether features for this content hash are cached (does not count as a hit or miss). */
  has(fileHash: string): boolean {
    return this.index.has(fileHash);
  }

  /** The cached features (a view, do not modify) for a content hash, counting hits and misses. */
  get(fileHash: string): Float32Array | undefined {
    const at = this.index.get(fileHash);
    if (!at) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return this.chunks[at.chunk]!.subarray(at.row * this.rowSize, (at.row + 1) * this.rowSize);
  }

  /**
   * Add rows: `features` holds `rows.length` feature vectors back to back. The data is copied, so
   * the caller may reuse its buffer. Hashes already cached are skipped.
   */
  putMany(rows: ReadonlyArray<{ hash: string; path?: string }>, features: Float32Array): void {
    if (features.length !== rows.length * this.rowSize) {
      throw new GraftError('E_CACHE_SHAPE', `putMany got ${features.length} values for ${rows.length} rows of ${this.rowSize} (shape [${this.featureShape}]).`);
    }
    // New hashes only; identical content within one call: the first occurrence wins.
    const fresh = new Map<string, { path?: string; i: number }>();
    rows.forEach((r, i) => {
      if (!this.index.has(r.hash) && !fresh.has(r.hash)) fresh.set(r.hash, { path: r.path, i });
    });
    if (fresh.size === 0) return;
    const chunk = new Float32Array(fresh.size * this.rowSize);
    const ci = this.chunks.length;
    let k = 0;
    for (const [hash, { path: p, i }] of fresh) {
      chunk.set(features.subarray(i * this.rowSize, (i + 1) * this.rowSize), k * this.rowSize);
      this.index.set(hash, { chunk: ci, row: k++ });
      this.hashes.push(hash);
      this.paths.push(p ?? '');
    }
    this.chunks.push(chunk);
    this.dirty = true;
  }

  /** Write the cache if anything was added: temp file in the same folder, fsync, rename. */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    const key = path.basename(this.file, '.feat');
    // A snapshot: rows added while this write is under way go into the next one.
    const chunks = [...this.chunks];
    this.dirty = false;
    const sum = crypto.createHash('sha256');
    for (const c of chunks) sum.update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
    const rows = chunks.reduce((a, c) => a + c.length / this.rowSize, 0);
    const header: Header = { version: 2, backboneKey: key, featureShape: [...this.featureShape], dtype: 'float32', hashes: this.hashes.slice(0, rows), paths: this.paths.slice(0, rows), sha256: sum.digest('hex') };
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const pre = Buffer.alloc(align4(12 + json.length));
    pre.write(MAGIC, 0, 'latin1');
    pre.writeUInt32LE(json.length, 8);
    json.copy(pre, 12);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    try {
      const fh = await fs.promises.open(tmp, 'w');
      try {
        await fh.writeFile(pre);
        // Chunks hold rows in the order of `hashes`, so writing them in turn is the matrix.
        for (const c of chunks) await fh.writeFile(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, this.file);
    } catch (e) {
      this.dirty = true;
      await fs.promises.rm(tmp, { force: true });
      throw e;
    }
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
