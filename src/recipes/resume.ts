import fs from 'node:fs';
import { GraftError, isGraftError } from '../errors.js';
import { readCheckpoint, writeCheckpoint } from '../io/checkpoint-file.js';
import type { EngineState } from '../train/engine.js';
import type { EpochLogs, FitResume } from '../train/fit.js';
import type { ResolvedTrainOptions } from '../options.js';

/**
 * Resuming an interrupted training run. After every epoch the run writes `<out>.checkpoint/resume/`
 * (io/checkpoint-file.ts): the trainable part's engine state (weights, optimiser slots, step
 * counts, dropout generator), the fit's position and callback states (early stopping's best
 * weights), the finished stages' records, the training log's length, and a fingerprint of the
 * data and of every option that changes the result. A rerun of the same command finds it and
 * continues; a seeded run resumed this way ends exactly where the uninterrupted one does.
 */

/** Options that do not change what is trained: a resumed run may differ in these. */
const NEUTRAL: ReadonlySet<string> = new Set(['out', 'force', 'log', 'quiet', 'resume', 'restart', 'report', 'onnx', 'cacheDir', 'allowOutside', 'timeBudget']);

export interface RunFingerprint {
  /** The data fingerprint of prepareData (names, labels and bytes of every image). */
  data: string;
  /** Every option that changes the result, as resolved. */
  options: Record<string, unknown>;
}

export function runFingerprint(o: ResolvedTrainOptions, data: { fingerprint: string }): RunFingerprint {
  const options = Object.fromEntries(Object.entries(o).filter(([k, v]) => !NEUTRAL.has(k) && v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
  return { data: data.fingerprint, options: JSON.parse(JSON.stringify(options)) as Record<string, unknown> };
}

/** One finished fit stage, as the resumed run must report it. */
export interface StageRecord {
  stage: string;
  epochs: EpochLogs[];
  stopReason?: string;
}

/** What a checkpoint holds. */
export interface ResumePoint {
  fingerprint: RunFingerprint;
  /** Position of the stage in progress among the run's fit stages (0-based), and its name. */
  stageIndex: number;
  stage: string;
  /** Records of the stages before it. */
  done: StageRecord[];
  fit: FitResume;
  engine: EngineState;
  /** Bytes of train-log.jsonl when the checkpoint was written (later lines are dropped on resume). */
  logBytes: number;
}

export async function saveResumePoint(ckptDir: string, p: ResumePoint): Promise<void> {
  await writeCheckpoint(ckptDir, p);
}

/** How the rerun treats a checkpoint: `true` must resume, `false` starts over, undefined resumes when it fits. */
export type ResumeMode = boolean | undefined;

/**
 * The checkpoint in `ckptDir` if this run should continue from it. With `mode` undefined a
 * checkpoint of a different run, or a damaged one, is reported (through `warn`) and left to be
 * replaced; with `mode === true` each of those is an error, and so is no checkpoint at all.
 */
export function loadResumePoint(ckptDir: string, fp: RunFingerprint, mode: ResumeMode, warn: (m: string) => void): ResumePoint | undefined {
  if (mode === false) return undefined;
  let raw: unknown;
  try {
    raw = readCheckpoint(ckptDir);
  } catch (e) {
    if (mode === true || !isGraftError(e)) throw e;
    warn(`${e.message.split("\n")[0]} Starting over.`);
    return undefined;
  }
  if (raw === undefined) {
    if (mode === true) throw new GraftError('E_RESUME_NONE', `--resume: there is no checkpoint of this run in ${ckptDir}.`, 'Run the command without --resume to start it; it writes a checkpoint after every epoch.');
    return undefined;
  }
  const p = raw as ResumePoint;
  const diffs = differences(p.fingerprint, fp);
  if (diffs.length) {
    const what = `The checkpoint in ${ckptDir} is of a different run (${diffs.join('; ')})`;
    if (mode === true) throw new GraftError('E_RESUME_MISMATCH', `${what}.`, 'Resume with the data and options that started it, or pass --restart to start over.');
    warn(`${what}: starting over.`);
    return undefined;
  }
  return p;
}

function differences(a: RunFingerprint, b: RunFingerprint): string[] {
  const out: string[] = [];
  if (a.data !== b.data) out.push('the images or labels changed');
  const keys = new Set([...Object.keys(a.options ?? {}), ...Object.keys(b.options)]);
  for (const k of [...keys].sort()) {
    const [x, y] = [JSON.stringify(a.options?.[k]), JSON.stringify(b.options[k])];
    if (x !== y) out.push(`${k}: ${x ?? 'unset'} then, ${y ?? 'unset'} now`);
  }
  return out;
}

/** Keep the first `bytes` of the training log (lines written after the checkpoint are redone). */
export function truncateLog(file: string, bytes: number): void {
  if (!fs.existsSync(file)) return;
  if (fs.statSync(file).size > bytes) fs.truncateSync(file, bytes);
}

