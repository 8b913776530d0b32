import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fit, HOOK_NAMES, type BatchSource, type Callback, type FitResume } from '../../src/train/fit.js';
import type { StepBatch, StepResult, TrainingEngine } from '../../src/train/engine.js';
import { constant, oneCycle } from '../../src/train/schedules.js';
import { earlyStopping, checkpoint, jsonlLogger, callbackFromFns, progressBar, atomicWriteFile } from '../../src/train/callbacks/index.js';
import { GraftError } from '../../src/errors.js';

/** A scripted engine: one scalar weight that counts steps, so restores are visible. */
class FakeEngine implements TrainingEngine {
  readonly name = 'fake';
  w = new Float32Array([0]);
  lrs: number[] = [];
  evalCalls = 0;
  constructor(private valLosses: number[] = []) {}
  async trainStep(b: StepBatch, lr: number): Promise<StepResult> {
    this.lrs.push(lr);
    this.w = new Float32Array([this.w[0] + 1]);
    return { loss: 1 / (1 + this.w[0]), correct: b.y.length - 1, count: b.y.length };
  }
  async evaluate(b: StepBatch): Promise<StepResult> {
    const loss = this.valLosses[this.evalCalls++] ?? 1;
    return { loss, correct: Math.round((1 - loss / 2) * b.y.length), count: b.y.length };
  }
  async predict(): Promise<Float32Array> {
    return new Float32Array(0);
  }
  getWeights() {
    return [this.w];
  }
  setWeights(w: Float32Array[]) {
    this.w = w[0].slice();
  }
  getState() {
    return { weights: [this.w.slice()], optimizer: [], steps: [], rng: this.evalCalls };
  }
  setState(s: { weights: Float32Array[]; rng: number }) {
    this.w = s.weights[0].slice();
    this.evalCalls = s.rng;
  }
  async syncToModel() {}
  dispose() {}
}

function source(batches: number, batchSize = 4): BatchSource {
  return {
    size: batches,
    async *batches() {
      for (let i = 0; i < batches; i++) yield { x: new Float32Array(batchSize * 2), xShape: [batchSize, 2], y: new Int32Array(batchSize) };
    },
  };
}

function recorder(log: string[]): Callback {
  const cb: Callback = {};
  for (const h of HOOK_NAMES) (cb as Record<string, unknown>)[h] = (a: unknown) => log.push(typeof a === 'number' ? `${h}:${a}` : h);
  return cb;
}

test('fit emits Keras hooks in order and returns per-epoch logs', async () => {
  const log: string[] = [];
  const engine = new FakeEngine([0.5, 0.4]);
  const h = await fit(engine, { train: source(2), val: source(1) }, { epochs: 2, callbacks: [recorder(log)] });
  assert.deepEqual(log, [
    'onTrainBegin',
    'onEpochBegin:0', 'onBatchBegin:0', 'onBatchEnd', 'onBatchBegin:1', 'onBatchEnd', 'onEpochEnd',
    'onEpochBegin:1', 'onBatchBegin:0', 'onBatchEnd', 'onBatchBegin:1', 'onBatchEnd', 'onEpochEnd',
    'onTrainEnd',
  ]);
  assert.equal(h.epochs.length, 2);
  const e0 = h.epochs[0];
  assert.equal(e0.epoch, 0);
  assert.ok(Math.abs(e0.loss - (1 / 2 + 1 / 3) / 2) < 1e-9, `train loss is the sample-weighted mean: ${e0.loss}`);
  assert.equal(e0.acc, 0.75);
  assert.equal(e0.valLoss, 0.5);
  assert.equal(h.epochs[1].valLoss, 0.4);
  assert.ok(e0.seconds >= 0);
  assert.equal(h.stopReason, undefined);
});

test('fit feeds the schedule the global step and reports lr', async () => {
  const engine = new FakeEngine();
  const batchLrs: number[] = [];
  const h = await fit(engine, { train: source(5) }, {
    epochs: 2,
    schedule: oneCycle(0.1),
    callbacks: [callbackFromFns({ onBatchEnd: (l) => void batchLrs.push(l.lr) })],
  });
  const s = oneCycle(0.1);
  assert.deepEqual(engine.lrs, Array.from({ length: 10 }, (_, i) => s(i, 10)));
  assert.deepEqual(batchLrs, engine.lrs);
  assert.equal(h.epochs[1].lr, s(9, 10));
  assert.equal(h.epochs[0].valLoss, undefined);
});

test('a callback can request a stop: the epoch closes, then training ends', async () => {
  const log: string[] = [];
  const stopper = callbackFromFns({ onBatchEnd: (l, ctx) => (l.epoch === 1 && l.batch === 0 ? ctx.stop('enough') : undefined) });
  const engine = new FakeEngine();
  const h = await fit(engine, { train: source(3), val: source(1) }, { epochs: 5, callbacks: [stopper, recorder(log)] });
  assert.equal(h.epochs.length, 2);
  assert.equal(h.stopReason, 'enough');
  assert.equal(engine.lrs.length, 4, 'epoch 1 stopped after its first batch');
  assert.equal(log.at(-2), 'onEpochEnd');
  assert.equal(log.at(-1), 'onTrainEnd');
  // setting the Keras-style flag directly works too
  const h2 = await fit(new FakeEngine(), { train: source(3) }, { epochs: 5, callbacks: [callbackFromFns({ onEpochEnd: (_l, ctx) => void (ctx.stopTraining = true) })] });
  assert.equal(h2.epochs.length, 1);
});

test('an AbortSignal stops at the next batch and drops the partial epoch', async () => {
  const ac = new AbortController();
  const engine = new FakeEngine();
  let ended = false;
  const h = await fit(engine, { train: source(4) }, {
    epochs: 3,
    signal: ac.signal,
    callbacks: [callbackFromFns({ onBatchEnd: (l) => (l.epoch === 1 && l.batch === 1 ? ac.abort() : undefined), onTrainEnd: () => void (ended = true) })],
  });
  assert.equal(engine.lrs.length, 6);
  assert.equal(h.epochs.length, 1);
  assert.equal(h.aborted, true);
  assert.equal(h.stopReason, 'aborted');
  assert.ok(ended);
});

test('early stopping stops after `patience` bad epochs and restores the best weights', async () => {
  const engine = new FakeEngine([1.0, 0.5, 0.6, 0.7, 0.8, 0.9]);
  const es = earlyStopping({ monitor: 'valLoss', patience: 2, restoreBestWeights: true });
  const h = await fit(engine, { train: source(3), val: source(1) }, { epochs: 6, callbacks: [es] });
  assert.equal(h.epochs.length, 4, 'epochs 2 and 3 did not improve on epoch 1');
  assert.equal(es.stoppedEpoch, 3);
  assert.equal(es.bestEpoch, 1);
  assert.equal(es.best, 0.5);
  assert.match(h.stopReason ?? '', /valLoss did not improve/);
  assert.equal(es.restored, true);
  assert.equal(engine.w[0], 6, 'weights are those after epoch 1 (2 epochs × 3 steps)');
});

test('early stopping: minDelta, max mode for accuracy, and a clear error without validation', async () => {
  // improvements of 0.01 are below minDelta 0.05 → stop after the first epoch with patience 0
  const e1 = new FakeEngine([1.0, 0.99, 0.98]);
  const h1 = await fit(e1, { train: source(1), val: source(1) }, { epochs: 3, callbacks: [earlyStopping({ minDelta: 0.05 })] });
  assert.equal(h1.epochs.length, 2);
  // valAcc is maximised (auto mode); FakeEngine's valAcc falls as valLoss rises
  const es = earlyStopping({ monitor: 'valAcc', patience: 1 });
  const h2 = await fit(new FakeEngine([0.2, 0.8, 0.2]), { train: source(1), val: source(1) }, { epochs: 3, callbacks: [es] });
  assert.equal(h2.epochs.length, 2);
  assert.equal(es.bestEpoch, 0);
  await assert.rejects(fit(new FakeEngine(), { train: source(1) }, { epochs: 2, callbacks: [earlyStopping()] }), (e: unknown) => e instanceof GraftError && /valLoss" is not in the epoch logs/.test(e.message));
  assert.throws(() => earlyStopping({ monitor: 'val_loss' as never }), /Should be one of: loss, acc, valLoss, valAcc/);
});

test('fit resumes from any epoch\'s save (early stopping state, best weights and a stop decision included) with the uninterrupted history', async () => {
  const losses = [1.0, 0.5, 0.6, 0.4, 0.7, 0.8, 0.9, 0.95];
  const straightEngine = new FakeEngine(losses);
  const saves: FitResume[] = [];
  const states: ReturnType<FakeEngine['getState']>[] = [];
  const es = () => earlyStopping({ monitor: 'valLoss', patience: 2, restoreBestWeights: true });
  const straight = await fit(straightEngine, { train: source(3), val: source(1) }, {
    epochs: 8,
    callbacks: [es()],
    save: async (r) => void (saves.push(JSON.parse(JSON.stringify(r, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)))), states.push(straightEngine.getState())),
  });
  assert.equal(straight.epochs.length, 6, 'stopped after epochs 5 and 6 did not beat epoch 4');
  assert.equal(saves.length, 6);
  assert.equal(saves.at(-1)!.stopped, true);
  for (let k = 0; k < saves.length; k++) {
    // Float32Arrays went through JSON as plain arrays (as a checkpoint file would store them): back to typed.
    const r = saves[k]!;
    r.callbacks = r.callbacks.map((c) => (c && typeof c === 'object' && 'bestWeights' in c && Array.isArray((c as { bestWeights?: number[] }).bestWeights) ? { ...c, bestWeights: (c as { bestWeights: number[][] }).bestWeights.map((w) => Float32Array.from(w)) } : c));
    const e = new FakeEngine(losses);
    e.setState(states[k]!);
    const h = await fit(e, { train: source(3), val: source(1) }, { epochs: 8, callbacks: [es()], resume: r });
    assert.deepEqual(h.epochs.map(({ seconds: _s, ...l }) => l), straight.epochs.map(({ seconds: _s, ...l }) => l), `resumed after epoch ${k + 1}`);
    assert.equal(h.stopReason, straight.stopReason);
    assert.deepEqual(e.w, straightEngine.w, `final (best) weights after resuming at epoch ${k + 1}`);
  }
  await assert.rejects(fit(new FakeEngine(), { train: source(1) }, { epochs: 2, callbacks: [], resume: { ...saves[0]!, callbacks: [null] } }), (e: unknown) => e instanceof GraftError && e.code === 'E_RESUME_MISMATCH');
});

test('checkpoint saves after every epoch (or every N / best only) and savers write atomically', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-ckpt-'));
  try {
    const saved: number[] = [];
    await fit(new FakeEngine(), { train: source(2) }, {
      epochs: 3,
      callbacks: [checkpoint(async ({ epoch, engine }) => {
        saved.push(epoch);
        await atomicWriteFile(path.join(dir, 'ckpt.json'), JSON.stringify({ epoch, w: Array.from(engine.getWeights()[0]) }));
      })],
    });
    assert.deepEqual(saved, [0, 1, 2]);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'ckpt.json'), 'utf8')), { epoch: 2, w: [6] });
    assert.deepEqual(fs.readdirSync(dir), ['ckpt.json'], 'no temporary files left behind');

    const every: number[] = [];
    await fit(new FakeEngine(), { train: source(1) }, { epochs: 5, callbacks: [checkpoint(async ({ epoch }) => void every.push(epoch), { every: 2 })] });
    assert.deepEqual(every, [1, 3, 4], 'every 2nd epoch, plus the last');

    const best: number[] = [];
    await fit(new FakeEngine([0.9, 0.5, 0.7, 0.4]), { train: source(1), val: source(1) }, {
      epochs: 4,
      callbacks: [checkpoint(async ({ epoch, best: b }) => void (b && best.push(epoch)), { saveBestOnly: true, monitor: 'valLoss' })],
    });
    assert.deepEqual(best, [0, 1, 3]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('jsonlLogger appends one line per epoch and optionally per batch', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-jsonl-'));
  try {
    const file = path.join(dir, 'sub', 'metrics.jsonl');
    await fit(new FakeEngine([0.3, 0.2]), { train: source(3), val: source(1) }, { epochs: 2, callbacks: [jsonlLogger(file)] });
    let lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual(lines.map((l) => [l.type, l.epoch, l.valLoss]), [['epoch', 0, 0.3], ['epoch', 1, 0.2]]);
    assert.ok(typeof lines[0].time === 'string' && typeof lines[0].lr === 'number');
    // a second run appends, with batch lines
    await fit(new FakeEngine(), { train: source(2) }, { epochs: 1, callbacks: [jsonlLogger(file, { perBatch: true })] });
    lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.type), ['epoch', 'epoch', 'batch', 'batch', 'epoch']);
    assert.deepEqual([lines[2].batch, lines[3].batch, lines[3].step], [0, 1, 1]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function capture(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), { isTTY });
  return { stream, text: () => chunks.join('') };
}

test('progress bar: redraws with \\r on a TTY, plain epoch lines otherwise', async () => {
  const tty = capture(true);
  await fit(new FakeEngine([0.5, 0.4]), { train: source(3), val: source(1) }, { epochs: 2, lr: 1e-3, callbacks: [progressBar({ stream: tty.stream, throttleMs: 0 })] });
  const t = tty.text();
  assert.ok(t.includes('\r\x1b[2KEpoch 1/2 ['), 'bar is redrawn in place');
  assert.match(t, /Epoch 2\/2 \[=+\] 3\/3/);
  assert.match(t, /Epoch 2\/2 {2}[\d.]+s {2}loss [\d.]+ {2}acc 0\.7500 {2}val_loss 0\.4000 {2}val_acc [\d.]+ {2}lr 1\.00e-3\n/);

  const plain = capture(false);
  await fit(new FakeEngine([0.5, 0.4]), { train: source(3), val: source(1) }, { epochs: 2, callbacks: [progressBar({ stream: plain.stream }), earlyStopping({ patience: 0, monitor: 'valAcc' })] });
  const p = plain.text();
  assert.ok(!p.includes('\r'), 'no carriage returns in logs');
  const lines = p.trim().split('\n');
  // valAcc is 0.75 in both epochs, so patience 0 stops after the second and says why
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^Epoch 1\/2 {2}[\d.]+s {2}loss/);
  assert.match(lines[2], /^Stopped: early stopping: valAcc did not improve/);
});

test('callbackFromFns rejects unknown hooks; fit validates its options', async () => {
  assert.throws(() => callbackFromFns({ onEpochEnds: () => {} } as never), /Unknown callback hook "onEpochEnds"[\s\S]*onEpochEnd/);
  await assert.rejects(fit(new FakeEngine(), { train: source(1) }, { epochs: 0 }), /epochs must be an integer >= 1\. Received: epochs=0/);
  await assert.rejects(fit(new FakeEngine(), { train: source(0) }, { epochs: 1 }), (e: unknown) => e instanceof GraftError && e.code === 'E_EMPTY_DATA');
  const engine = new FakeEngine();
  const h = await fit(engine, { train: source(2) }, { epochs: 3, initialEpoch: 2, schedule: constant(0.5) });
  assert.deepEqual(h.epochs.map((e) => e.epoch), [2]);
  assert.deepEqual(engine.lrs, [0.5, 0.5]);
});
