import type * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { DEFAULTS } from '../env.js';
import { addHead } from '../transfer/head.js';
import { seedWeights } from '../transfer/seed.js';
import fs from 'node:fs';
import path from 'node:path';
import { createEngine, engineLabel } from '../engine/index.js';
import type { EngineOptions, TrainingEngine } from '../train/engine.js';
import type { Callback, EpochLogs } from '../train/fit.js';
import { earlyStopping, jsonlLogger, fitEvents } from '../train/callbacks/index.js';
import { fit, type BatchSource, type History } from '../train/fit.js';
import type { Schedule } from '../train/schedules.js';
import { saveResumePoint, truncateLog, type ResumePoint, type RunFingerprint, type StageRecord } from './resume.js';
import { resolveAugment, augmentPixels, randomResizedCrop } from '../data/augment.js';
import type { DatasetItem } from '../data/dataset.js';
import type { Backbone } from '../backbones/index.js';
import { extractFeatures, augmentedSource, type Extractor } from '../features/extract.js';
import { cachedExtract, type CacheKey } from '../features/cached.js';
import type { FeatureSet } from '../features/feature-set.js';
import type { PreparedData } from '../data/prepare.js';
import type { ResolvedTrainOptions } from '../options.js';
import type { GraftEvent, GraftMessageEvent } from '../events.js';

/** Epochs of a gradient recipe: the option, else DEFAULTS.epochs. */
export const epochsOf = (o: ResolvedTrainOptions): number => o.epochs ?? DEFAULTS.epochs;

/** What a recipe hands back: the trained network and what to evaluate it on. */
export interface RecipeResult {
  /** The complete network (image → probabilities), holding the trained weights once `engine` is synced. */
  model: tf.LayersModel;
  engine: TrainingEngine;
  /** Rows of the test set (or validation, when there is no test set) at the engine's input. */
  evalFeatures: FeatureSet;
  /** Layer up to which the saved model stays frozen (null: the whole network trained). */
  frozenUpTo: string | null;
  /** Where the head reads its features, when the recipe chose it (else the backbone's cut). */
  cut?: string;
  /** What graft.json's `head` records, when the recipe chose it. */
  head?: { kind: 'linear' | 'prototype' | 'knn' | 'dense'; hidden: number[]; dropout: number };
  /** Further numbers for graft.json's metrics (a cross-validated estimate). */
  metrics?: Record<string, unknown>;
  /**
   * Held-out predictions to report when there is no test set (out-of-fold under
   * cross-validation), instead of predicting `evalFeatures` (which were all trained on).
   */
  heldOut?: { probs: Float32Array; labels: Int32Array; paths: string[]; split: string };
}

/**
 * Everything a recipe composes from: the options, the data, the opened backbone, and the shared
 * plumbing of a run (engine choice, callbacks with checkpoint and log, cached extraction that
 * counts backbone runs and skipped files). Recipes stay short because all of that lives here.
 */
export class RecipeContext {
  readonly skipped: { path: string; reason: string }[] = [];
  readonly stages: Record<string, unknown>[] = [];
  readonly history: (EpochLogs & { stage?: string })[] = [];
  readonly engines = new Set<string>();
  backboneRuns = 0;
  readonly logFile: string;
  /** When the run's --time-budget ends (ms since the epoch), if it has one. */
  deadline?: number;
  /** Records of the fit stages run so far (a resumed run starts with the checkpoint's). */
  private readonly done: StageRecord[] = [];

  constructor(
    readonly o: ResolvedTrainOptions,
    readonly data: PreparedData,
    readonly bb: Backbone,
    readonly onEvent: (e: GraftEvent) => void,
    /** The per-run checkpoint folder beside the model directory (`<out>.checkpoint`). */
    readonly ckptDir: string,
    /** What makes a checkpoint this run's (written into every checkpoint). */
    readonly fingerprint: RunFingerprint,
    /** The checkpoint to continue from, when resuming. */
    private readonly resume?: ResumePoint,
  ) {
    fs.mkdirSync(ckptDir, { recursive: true });
    this.logFile = path.join(ckptDir, 'train-log.jsonl');
    if (resume) truncateLog(this.logFile, resume.logBytes);
    else fs.rmSync(this.logFile, { force: true });
  }

  /** The backbone's base with a new head (seeded: the head always, the whole network from scratch). */
  network(scratch = false): tf.LayersModel {
    const o = this.o;
    const full = addHead(this.bb.base, { classes: this.classes, hidden: o.hidden, dropout: o.dropout, pooling: o.pooling });
    seedWeights(full, o.seed, scratch ? () => true : (l) => l.name.startsWith('graft_head_'));
    return full;
  }

  get classes(): number {
    return this.data.classes.length;
  }

  say(message: string, type: GraftMessageEvent['type'] = 'info'): void {
    this.onEvent({ type, message });
  }

  /** The training engine the options ask for (createEngine), recorded for graft.json. */
  async engine(model: tf.LayersModel, opts: EngineOptions): Promise<TrainingEngine> {
    const e = await createEngine(this.o.engine, model, opts, { onFallback: (why) => this.say(`${why} (this stage)`, 'warning') });
    this.engines.add(engineLabel(e));
    return e;
  }

  /** Progress, the non-finite-loss stop, early stopping (--early-stopping) and the JSONL log. */
  callbacks(stage: string): Callback[] {
    const o = this.o;
    const cbs: Callback[] = [];
    cbs.push(fitEvents(stage, this.onEvent), finiteLoss(stage));
    if (o.earlyStopping > 0) cbs.push(earlyStopping({ monitor: 'valLoss', patience: o.earlyStopping, restoreBestWeights: true }));
    cbs.push(jsonlLogger(this.logFile));
    cbs.push(timeBudget(() => this.deadline, o.timeBudget));
    return cbs;
  }

  /**
   * One fit stage of the run, checkpointed after every epoch (only what trains: the engine's
   * state, the fit's position, callback states) and resumed from the checkpoint when the run
   * continues one: a stage the checkpoint had finished is not run again (its record is
   * returned); the stage in progress continues at its next epoch.
   */
  async fitStage(stage: string, engine: TrainingEngine, sources: { train: BatchSource; val?: BatchSource }, opts: { epochs: number; schedule: Schedule; callbacks?: Callback[] }): Promise<History> {
    const index = this.done.length;
    const r = this.resume;
    if (r && r.stageIndex > index) {
      const rec = r.done[index]!;
      this.done.push(rec);
      this.say(`Resuming: the ${stage} stage finished before the interruption (${rec.epochs.length} epochs)`);
      return { epochs: rec.epochs, stopReason: rec.stopReason };
    }
    const resume = r && r.stageIndex === index ? r.fit : undefined;
    if (resume) {
      engine.setState(r!.engine);
      this.say(`Resuming the ${stage} stage after epoch ${resume.epoch} of ${opts.epochs} (checkpoint ${this.ckptDir})`, 'stage');
    }
    const callbacks = [...this.callbacks(stage), ...(opts.callbacks ?? [])];
    const h = await fit(engine, sources, {
      epochs: opts.epochs,
      schedule: opts.schedule,
      callbacks,
      resume,
      save: async (f) => {
        const logBytes = fs.existsSync(this.logFile) ? fs.statSync(this.logFile).size : 0;
        await saveResumePoint(this.ckptDir, { fingerprint: this.fingerprint, stageIndex: index, stage, done: this.done, fit: f, engine: engine.getState(), logBytes });
      },
    });
    this.done.push({ stage, epochs: h.epochs, stopReason: h.stopReason });
    return h;
  }

  /** Rows of `items` through `ex`: from the feature cache when `key` is given, else computed. */
  async extract(ex: Extractor, items: DatasetItem[], key: CacheKey | undefined, label: string): Promise<FeatureSet> {
    if (!key) {
      const d = await extractFeatures(ex, items, { label });
      this.skipped.push(...d.skipped);
      return d.features;
    }
    const r = await cachedExtract(ex, items, key, { cacheDir: this.o.cacheDir, label, onEvent: this.onEvent });
    this.backboneRuns += r.computed;
    this.skipped.push(...r.skipped);
    return r.features;
  }

  /** The test set's rows through `ex`, or `fallback` (validation) when there is no test set. */
  async testFeatures(ex: Extractor, key: CacheKey | undefined, label: string, fallback: FeatureSet): Promise<FeatureSet> {
    return this.data.test.length ? this.extract(ex, this.data.test, key, label) : fallback;
  }

  /** With --augment: a source that decodes, augments and runs the frozen part for every batch. */
  augmentedTrainSource(ex: Extractor) {
    const o = this.o;
    if (!o.augment) return undefined;
    const aug = resolveAugment(true)!;
    const crop = aug.crop as { scale: [number, number]; ratio: [number, number] } | undefined;
    return augmentedSource(
      ex,
      this.data.train,
      o.batchSize,
      o.seed,
      (rgb, h, w, rng) => augmentPixels(rgb, h, w, aug, rng),
      crop ? (cw, ch, rng) => randomResizedCrop(cw, ch, crop.scale, crop.ratio, rng) : undefined,
      () => this.backboneRuns++,
    );
  }

  /** Record a finished fit stage's epochs (numbered after the earlier stages') and its summary. */
  recordStage(stage: string, epochs: EpochLogs[], summary: Record<string, unknown>): void {
    const offset = this.history.length;
    this.history.push(...epochs.map((e) => ({ ...e, epoch: e.epoch + offset, stage })));
    this.stages.push({ stage, epochs: epochs.length, ...summary });
  }
}

/** Stop at the first epoch end past the run's deadline (--time-budget); a no-op without one. */
function timeBudget(deadline: () => number | undefined, seconds: number | undefined): Callback {
  return {
    onEpochEnd(_l, fit) {
      const d = deadline();
      if (d !== undefined && Date.now() > d && !fit.stopTraining) fit.stop(`time budget of ${seconds} s reached`);
    },
  };
}

/** Stop at the first non-finite loss: weights that produced it are not worth a model directory. */
function finiteLoss(stage: string): Callback {
  return {
    onBatchEnd(l) {
      if (!Number.isFinite(l.loss)) {
        throw new GraftError('E_NONFINITE_LOSS', `Training stopped: the ${stage} stage's loss became ${l.loss} at epoch ${l.epoch + 1}, batch ${l.batch + 1} (learning rate ${l.lr.toExponential(2)}). No model was written.`, 'Lower --lr, or check the images; a damaged feature cache is recomputed after deleting $GRAFT_HOME/features.');
      }
    },
  };
}
