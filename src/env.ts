import os from 'node:os';
import path from 'node:path';

/**
 * One home for Graft's defaults. Every per-call option overrides these.
 * `GRAFT_HOME` moves the cache (weights, compiled ONNX graphs, cached activations).
 */
export interface GraftEnv {
  /** Root of Graft's cache: weights/, onnx/, features/ live under it. */
  home: string;
  /** Intra-op threads for onnxruntime (default: number of cores). */
  threads: number;
  /** Keras' own cache, read (never written) when looking for `imagenet` weights. */
  kerasHome: string;
  /** Whether downloads may be attempted. GRAFT_OFFLINE=1 forbids them. */
  allowDownload: boolean;
}

/**
 * The defaults every verb shares (the CLI, the zod schema and the library read them here, so
 * they cannot drift): the embedded default backbone is the MobileNetV2 that the npm package
 * nsfwjs ships (ImageNet-initialised, MIT), so Graft works without any download.
 */
export const DEFAULTS = Object.freeze({
  backbone: 'mobilenet_v2',
  weights: 'nsfwjs',
  /** Preprocessing assumed for a user's ONNX backbone (torchvision's convention). */
  onnxPreprocess: 'torch',
  seed: 42,
  /** Epochs of the gradient recipes (fine-tune, from scratch, --head dense) when --epochs is not given. */
  epochs: 10,
} as const);

function defaultHome(): string {
  if (process.env.GRAFT_HOME) return path.resolve(process.env.GRAFT_HOME);
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg ? xdg : path.join(os.homedir(), '.cache'), 'graft');
}

export const env: GraftEnv = {
  home: defaultHome(),
  threads: Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length),
  kerasHome: process.env.KERAS_HOME ? path.resolve(process.env.KERAS_HOME) : path.join(os.homedir(), '.keras'),
  allowDownload: process.env.GRAFT_OFFLINE !== '1',
};

/** Re-read environment variables (tests change GRAFT_HOME at run time). */
export function refreshEnv(): GraftEnv {
  env.home = defaultHome();
  env.kerasHome = process.env.KERAS_HOME ? path.resolve(process.env.KERAS_HOME) : path.join(os.homedir(), '.keras');
  env.allowDownload = process.env.GRAFT_OFFLINE !== '1';
  return env;
}
