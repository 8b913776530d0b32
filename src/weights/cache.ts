import type { GraftProgressEvent } from '../events.js';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { env } from '../env.js';
import { GraftError } from '../errors.js';

export type HashAlgo = 'md5' | 'sha256';

/** A downloadable weight file. `hash: null` where the publisher gives none (nothing is verified). */
export interface WeightFile {
  fileName: string;
  url: string;
  hash: string | null;
  /** Omitted: detected from the length like Keras' `get_file` (64 hex = sha256, else md5). */
  hashAlgo?: HashAlgo;
}

/** Progress of one download: Graft's progress event (events.ts) for the task 'download'. */
export type DownloadProgressEvent = GraftProgressEvent & { task: 'download'; file: string };

export interface FetchWeightsOptions {
  onProgress?: (e: DownloadProgressEvent) => void;
  /** Override `<env.home>/weights` (tests). */
  cacheDir?: string;
  /** Override `env.allowDownload`. */
  allowDownload?: boolean;
}

/** Graft's weight cache, `<GRAFT_HOME>/weights`. */
export function weightsCacheDir(): string {
  return path.join(env.home, 'weights');
}

/** Keras' own download folder, read (never written): `~/.keras/models`. */
export function kerasModelsDir(): string {
  return path.join(env.kerasHome, 'models');
}

/** Keras `get_file`'s rule: a 64-hex hash is sha256, anything else md5. */
export function detectHashAlgo(hash: string): HashAlgo {
  return hash.length === 64 ? 'sha256' : 'md5';
}

/**
 * Hash a file by streaming it.
 *
 * @example
 * const hex = await hashFile('w.h5', 'sha256');
 */
export async function hashFile(file: string, algo: HashAlgo = 'sha256'): Promise<string> {
  const h = crypto.createHash(algo);
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function verified(file: string, wf: WeightFile): Promise<boolean> {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) return false;
  if (!wf.hash) return true;
  return (await hashFile(file, wf.hashAlgo ?? detectHashAlgo(wf.hash))) === wf.hash.toLowerCase();
}

function unavailable(wf: WeightFile, dir: string, why: string): GraftError {
  return new GraftError(
    'E_WEIGHTS_UNAVAILABLE',
    `Weights file "${wf.fileName}" is not in the cache and ${why}. URL: ${wf.url}`,
    `Download it elsewhere and put it at ${path.join(dir, wf.fileName)} (or in ${kerasModelsDir()}, where Keras keeps it)${wf.hash ? `; its ${wf.hashAlgo ?? detectHashAlgo(wf.hash)} must be ${wf.hash}` : ''}.`,
  );
}

/**
 * Return a local path to a weight file: Graft's cache, then Keras' `~/.keras/models` (read-only),
 * then a download (unless offline: GRAFT_OFFLINE=1 / `env.allowDownload = false`). A download
 * streams to a temp file in the cache folder, is hash-checked, then renamed into place, so the
 * cache never holds a partial or unverified file.
 *
 * @example
 * const file = await fetchWeights(
 *   { fileName: 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5', url: '…', hash: '4d473c1dd8becc155b73f8504c6f6626' },
 *   { onProgress: terminalProgress() });
 */
export async function fetchWeights(wf: WeightFile, opts: FetchWeightsOptions = {}): Promise<string> {
  const dir = opts.cacheDir ?? weightsCacheDir();
  const cached = path.join(dir, wf.fileName);
  if (await verified(cached, wf)) return cached;
  const keras = path.join(kerasModelsDir(), wf.fileName);
  if (await verified(keras, wf)) return keras;
  // A cached file with the wrong hash is treated as absent (Keras re-downloads it too).
  if (!(opts.allowDownload ?? env.allowDownload)) throw unavailable(wf, dir, 'downloads are off (GRAFT_OFFLINE=1 or env.allowDownload = false)');
  return download(wf, dir, opts.onProgress);
}

async function download(wf: WeightFile, dir: string, onProgress?: (e: DownloadProgressEvent) => void): Promise<string> {
  const target = path.join(dir, wf.fileName);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.part`);
  const algo = wf.hash ? (wf.hashAlgo ?? detectHashAlgo(wf.hash)) : 'sha256';
  const hasher = crypto.createHash(algo);
  let loaded = 0;
  let total = 0;
  const emit = (type: DownloadProgressEvent['type']) => onProgress?.({ type, task: 'download', file: wf.fileName, label: wf.fileName, loaded, total, unit: 'B' });
  let fh: fs.promises.FileHandle | undefined;
  try {
    let res: Response;
    try {
      res = await fetch(wf.url);
    } catch (e) {
      throw unavailable(wf, dir, `the download failed (${(e as Error).cause ?? (e as Error).message})`);
    }
    if (!res.ok || !res.body) throw unavailable(wf, dir, `the server answered HTTP ${res.status} ${res.statusText}`);
    total = Number(res.headers.get('content-length') ?? 0) || 0;
    emit('initiate');
    fh = await fs.promises.open(tmp, 'w');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        hasher.update(chunk);
        await fh.write(chunk);
        loaded += chunk.byteLength;
        emit('progress');
      }
    } catch (e) {
      throw unavailable(wf, dir, `the download broke off after ${loaded} bytes (${(e as Error).message})`);
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (total && loaded !== total) throw unavailable(wf, dir, `the download ended after ${loaded} of ${total} bytes`);
    const got = hasher.digest('hex');
    if (wf.hash && got !== wf.hash.toLowerCase()) {
      throw new GraftError(
        'E_WEIGHTS_HASH',
        `Downloaded "${wf.fileName}" from ${wf.url} has ${algo} ${got}, expected ${wf.hash.toLowerCase()}. Nothing was kept.`,
        'The server sent a different or damaged file; try again later, or fetch the file yourself and check it.',
      );
    }
    fs.renameSync(tmp, target);
    emit('done');
    return target;
  } finally {
    await fh?.close().catch(() => undefined);
    fs.rmSync(tmp, { force: true });
  }
}
