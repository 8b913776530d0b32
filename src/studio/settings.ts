import fs from 'node:fs';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { DEFAULTS } from '../env.js';

/**
 * What the studio trains and embeds with, kept in `.graft/settings.json` so that reopening a
 * project gives the same model, and so the CLI can be told the same: `graft train <project>
 * --backbone … --weights … --input-size …` reads the same folder and the same feature cache.
 */
export interface StudioModelSettings {
  backbone: string;
  weights: string;
  /** Square input size; undefined: the weights' own (224 for the default MobileNetV2). */
  inputSize?: number;
  /** Graft's cache root (features/, onnx/); undefined: $GRAFT_HOME, shared with the CLI. */
  cacheDir?: string;
}

export function readSettings(meta: string, override: Partial<StudioModelSettings> = {}): StudioModelSettings {
  const file = path.join(meta, 'settings.json');
  let saved: Partial<StudioModelSettings> = {};
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StudioModelSettings>;
  } catch {
    // A new project: defaults.
  }
  const defined = Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined));
  const s: StudioModelSettings = { backbone: DEFAULTS.backbone, weights: DEFAULTS.weights, ...saved, ...defined };
  const { cacheDir: _cache, ...kept } = s;
  fs.writeFileSync(file, JSON.stringify(kept, null, 2) + '\n');
  return s;
}

/**
 * Start one of the studio's helper processes (`embed-child`, `train-child`, `shift-child`, `adapt-child`, `predict-child`) with IPC. Run from
 * TypeScript sources (tests, tsx), the child loads the .ts file through tsx too.
 */
export function forkStudioChild(name: 'embed-child' | 'train-child' | 'shift-child' | 'adapt-child' | 'predict-child', args: string[]): ChildProcess {
  const ts = import.meta.url.endsWith('.ts');
  const file = new URL(`./${name}.${ts ? 'ts' : 'js'}`, import.meta.url);
  return fork(file, args, { execArgv: ts ? ['--import', import.meta.resolve('tsx')] : [], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
}
