// The TrainingEngine contract (src/train/engine.ts), checked the same way on every implementation:
// the TF.js engine, the onnxruntime training engine, createEngine() picking either, and the
// predict/evaluate-only static head engine (prototype / kNN heads) where the contract applies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { createEngine } from '../../src/engine/index.js';
import { createOrtEngine } from '../../src/engine/ort-train/index.js';
import { isGraftError } from '../../src/errors.js';
import { staticHeadEngine } from '../../src/heads/static-engine.js';
import type { EngineOptions, StepBatch, StepResult, TrainingEngine } from '../../src/train/engine.js';
import { separableBatch } from '../helpers/rand.js';
import { createTfjsEngine } from '../../src/engine/tfjs/engine.js';

const D = 5; // input features
const K = 3; // classes
const N = 24; // rows per batch
const LR = 0.05;
const OPTS: EngineOptions = { optimizer: { type: 'adam', lr: LR }, seed: 11 };

/** A separable toy batch: row i has class i % K, shown as +1.5 on feature `class`. */
const toyBatch = (seed: number, n = N): StepBatch => separableBatch(n, D, K, seed, 1.5);

/** Dense(8, relu) → Dropout → Dense(K, softmax) on D-d inputs, glorot-seeded (biases zero). */
function smallModel(seed = 3, dropout = 0.5): tf.LayersModel {
  const layers: tf.layers.Layer[] = [tf.layers.dense({ units: 8, activation: 'relu', inputShape: [D], kernelInitializer: tf.initializers.glorotUniform({ seed }) })];
  if (dropout > 0) layers.push(tf.layers.dropout({ rate: dropout }));
  layers.push(tf.layers.dense({ units: K, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }));
  return tf.sequential({ layers });
}

/** The TF.js model's own inference (training: false). */
function modelPredict(model: tf.LayersModel, b: StepBatch): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(b.x, b.xShape)) as tf.Tensor).dataSync() as Float32Array).slice();
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function assertStep(r: StepResult, n: number, what: string): void {
  assert.ok(Number.isFinite(r.loss) && r.loss >= 0, `${what}: loss ${r.loss} is not a finite number ≥ 0`);
  assert.ok(Number.isInteger(r.correct) && r.correct >= 0 && r.correct <= n, `${what}: correct ${r.correct} is not an integer in [0, ${n}]`);
  assert.equal(r.count, n, `${what}: count`);
}

const isCode = (code: string) => (e: unknown) => isGraftError(e) && e.code === code;

interface Factory {
  label: string;
  /** The engine's `name` (createEngine's says which engine it picked). */
  name: string;
  /** Has gradient steps (the static head has none). */
  trains: boolean;
  make(model: tf.LayersModel): Promise<TrainingEngine>;
}

const noFallback = (reason: string) => assert.fail(`createEngine('ort') fell back to TF.js on a Dense/Dropout model: ${reason}`);

const FACTORIES: Factory[] = [
  { label: 'createTfjsEngine', name: 'tfjs', trains: true, make: (m) => createTfjsEngine(m, OPTS) },
  { label: 'createOrtEngine', name: 'ort', trains: true, make: (m) => createOrtEngine(m, OPTS) },
  { label: "createEngine('ort')", name: 'ort', trains: true, make: (m) => createEngine('ort', m, OPTS, { onFallback: noFallback }) },
  { label: "createEngine('tfjs')", name: 'tfjs', trains: true, make: (m) => createEngine('tfjs', m, OPTS) },
  { label: 'staticHeadEngine', name: 'static-head', trains: false, make: async (m) => staticHeadEngine(m) },
];

before(async () => {
  await initTf();
});

for (const f of FACTORIES) {
  describe(`TrainingEngine contract: ${f.label}`, () => {
    let model: tf.LayersModel;
    let engine: TrainingEngine;
    const batch = toyBatch(1);
    const train = async (steps: number) => {
      for (let s = 0; s < steps; s++) assertStep(await engine.trainStep(toyBatch(100 + s), LR), N, `step ${s}`);
    };
    // A fresh seeded model and engine per case: cases do not depend on one another's order.
    const fresh = async () => {
      engine?.dispose();
      model = smallModel();
      engine = await f.make(model);
    };
    after(() => engine?.dispose());

    test('name is a non-empty string naming the engine', async () => {
      await fresh();
      assert.equal(typeof engine.name, 'string');
      assert.ok(engine.name.length > 0);
      assert.equal(engine.name, f.name);
    });

    test('predict: row-major probabilities [n, classes], inference mode (dropout off)', async () => {
      await fresh();
      const p = await engine.predict(batch.x, batch.xShape);
      assert.ok(p instanceof Float32Array);
      assert.equal(p.length, N * K);
      for (let i = 0; i < N; i++) {
        let sum = 0;
        for (let j = 0; j < K; j++) {
          const v = p[i * K + j];
          assert.ok(v >= 0 && v <= 1, `row ${i} class ${j}: ${v} is not a probability`);
          sum += v;
        }
        assert.ok(Math.abs(sum - 1) <= 1e-5, `row ${i} sums to ${sum}`);
      }
      assert.deepEqual(await engine.predict(batch.x, batch.xShape), p, 'two predict calls differ: dropout is on');
      // Untrained, the engine holds the model's weights: its predict is the model's own inference.
      assert.ok(maxDiff(p, modelPredict(model, batch)) <= 1e-5, 'predict differs from the TF.js model (training: false)');
      // One row alone gives the same probabilities as in the batch (no batch-dependent inference).
      const one = await engine.predict(batch.x.slice(D, 2 * D), [1, D]);
      assert.ok(maxDiff(one, p.subarray(K, 2 * K)) <= 1e-6, 'a single row predicts differently than in its batch');
    });

    test('evaluate: {loss, correct, count} of the batch, changing nothing', async () => {
      await fresh();
      const p0 = await engine.predict(batch.x, batch.xShape);
      const w0 = engine.getWeights().map((w) => w.slice());
      const r = await engine.evaluate(batch);
      assertStep(r, N, 'evaluate');
      // The loss is the mean cross-entropy of predict's probabilities; correct is its top-1 count.
      let ce = 0;
      let top1 = 0;
      for (let i = 0; i < N; i++) {
        const row = Array.from(p0.subarray(i * K, (i + 1) * K));
        ce -= Math.log(row[batch.y[i]]);
        if (row.indexOf(Math.max(...row)) === batch.y[i]) top1++;
      }
      assert.ok(Math.abs(r.loss - ce / N) <= 1e-5 * Math.max(1, ce / N), `evaluate loss ${r.loss} vs mean cross-entropy of predict ${ce / N}`);
      assert.equal(r.correct, top1, 'evaluate correct vs predict top-1');
      assert.deepEqual(await engine.evaluate(batch), r, 'evaluate is not repeatable');
      assert.deepEqual(await engine.predict(batch.x, batch.xShape), p0, 'evaluate changed predict');
      assert.deepEqual(engine.getWeights(), w0, 'evaluate changed the weights');
    });

    if (f.trains) {
      test('trainStep: a few steps on a separable batch return finite results and lower the loss', async () => {
        await fresh();
        const start = await engine.evaluate(batch);
        const first = await engine.trainStep(batch, LR);
        assertStep(first, N, 'first step');
        await train(8);
        const end = await engine.evaluate(batch);
        assertStep(end, N, 'evaluate after training');
        assert.ok(end.loss < 0.8 * start.loss, `loss did not go down: ${start.loss} → ${end.loss}`);
        assert.ok(end.correct >= start.correct, `accuracy went down: ${start.correct} → ${end.correct} of ${N}`);
        await assert.rejects(engine.trainStep(batch, Number.NaN), isGraftError, 'a NaN learning rate is accepted');
        await assert.rejects(engine.trainStep({ ...batch, y: batch.y.subarray(1) }, LR), isCode('E_BATCH_SHAPE'), 'a label count ≠ rows is accepted');
      });
    } else {
      test('trainStep rejects with E_HEAD_FEW_SHOT (no gradient steps)', async () => {
        await fresh();
        const p0 = await engine.predict(batch.x, batch.xShape);
        await assert.rejects(engine.trainStep(batch, LR), isCode('E_HEAD_FEW_SHOT'));
        assert.deepEqual(await engine.predict(batch.x, batch.xShape), p0, 'a rejected trainStep changed predict');
      });
    }

    test('getWeights: one Float32Array per model weight, of its size', async () => {
      await fresh();
      const ws = engine.getWeights();
      assert.equal(ws.length, model.weights.length);
      model.weights.forEach((v, i) => {
        assert.ok(ws[i] instanceof Float32Array, `weight ${i} (${v.name}) is not a Float32Array`);
        assert.equal(ws[i].length, v.shape.reduce((a: number, b) => a * (b ?? 1), 1), `weight ${i} (${v.name}) length`);
        assert.ok(ws[i].every(Number.isFinite), `weight ${i} (${v.name}) is not finite`);
      });
    });

    if (f.trains) {
      test('getWeights → setWeights round-trips; a wrong count or length throws a GraftError', async () => {
        await fresh();
        await train(2);
        const snapshot = engine.getWeights();
        const copy = snapshot.map((w) => w.slice());
        const p0 = await engine.predict(batch.x, batch.xShape);
        await train(3);
        const p1 = await engine.predict(batch.x, batch.xShape);
        assert.ok(maxDiff(p0, p1) > 1e-4, 'training did not change predict (nothing to restore)');
        assert.deepEqual(snapshot, copy, 'training changed an array returned by getWeights (not a copy)');
        engine.setWeights(snapshot);
        assert.ok(maxDiff(await engine.predict(batch.x, batch.xShape), p0) <= 1e-6, 'predict after setWeights(snapshot) differs from predict at the snapshot');
        assert.ok(maxDiff(engine.getWeights().flatMap((w) => Array.from(w)), copy.flatMap((w) => Array.from(w))) <= 1e-7, 'getWeights after setWeights differs');

        // Rejected calls throw a GraftError and leave the weights as they were.
        const restored = await engine.predict(batch.x, batch.xShape);
        assert.throws(() => engine.setWeights(copy.slice(1)), isGraftError, 'one array too few');
        assert.throws(() => engine.setWeights([...copy, new Float32Array(1)]), isGraftError, 'one array too many');
        const short = copy.map((w) => w.slice());
        short[short.length - 1] = short[short.length - 1].subarray(1);
        assert.throws(() => engine.setWeights(short), isGraftError, 'last array one value short');
        const long = copy.map((w, i) => (i === 0 ? Float32Array.from([...w, 0]) : w.slice()));
        assert.throws(() => engine.setWeights(long), isGraftError, 'first array one value long');
        assert.deepEqual(await engine.predict(batch.x, batch.xShape), restored, 'a rejected setWeights changed the weights');
      });
    }

    test("syncToModel: the TF.js model's own predict equals the engine's", async () => {
      await fresh();
      if (f.trains) await train(4);
      await engine.syncToModel();
      const viaEngine = await engine.predict(batch.x, batch.xShape);
      assert.ok(maxDiff(modelPredict(model, batch), viaEngine) <= 1e-5, 'model.predict after syncToModel differs from engine.predict');
      if (f.trains) assert.ok(maxDiff(modelPredict(smallModel(), batch), viaEngine) > 1e-4, 'the engine did not train (syncToModel check is vacuous)');
    });

    if (f.trains) {
      test('getState → setState continues training bit for bit (optimiser slots, step counts, dropout stream); a foreign state throws', async () => {
        await fresh();
        await train(3);
        const snap = engine.getState();
        await train(3);
        const straight = engine.getWeights();
        // A second engine on a fresh model, given the snapshot, takes the same three steps.
        const other = await f.make(smallModel(9));
        other.setState(snap);
        for (let s = 0; s < 3; s++) await other.trainStep(toyBatch(100 + s), LR);
        assert.deepEqual(other.getWeights(), straight, 'the resumed engine drifted from the uninterrupted one');
        // Without the optimiser state (zeroed slots) the same steps give other weights: the check can fail.
        other.setState({ ...snap, optimizer: snap.optimizer.map((a) => new Float32Array(a.length)), steps: snap.steps.map(() => 0) });
        for (let s = 0; s < 3; s++) await other.trainStep(toyBatch(100 + s), LR);
        assert.notDeepEqual(other.getWeights(), straight);
        assert.throws(() => other.setState({ ...snap, optimizer: snap.optimizer.slice(1) }), isCode('E_WEIGHTS_MISMATCH'));
        other.dispose();
      });
    }

    test('dispose does not throw (twice included)', async () => {
      await fresh();
      assert.doesNotThrow(() => engine.dispose());
      assert.doesNotThrow(() => engine.dispose());
      if (f.trains) {
        await assert.rejects(engine.predict(batch.x, batch.xShape), isCode('E_ENGINE_DISPOSED'), 'predict after dispose');
        await assert.rejects(engine.trainStep(batch, LR), isCode('E_ENGINE_DISPOSED'), 'trainStep after dispose');
      }
    });
  });
}

describe('TrainingEngine contract: the TF.js and ORT engines agree on the same seeded setup', () => {
  test('first-step loss (and the next steps) on a dropout-free model, to 1e-4', async () => {
    const [a, b] = [await createTfjsEngine(smallModel(3, 0), OPTS), await createOrtEngine(smallModel(3, 0), OPTS)];
    for (let s = 0; s < 3; s++) {
      const batch = toyBatch(200 + s);
      const [ra, rb] = [await a.trainStep(batch, LR), await b.trainStep(batch, LR)];
      assert.ok(Math.abs(ra.loss - rb.loss) <= 1e-4, `step ${s}: loss tfjs ${ra.loss} vs ort ${rb.loss}`);
      assert.equal(ra.correct, rb.correct, `step ${s}: correct`);
      assert.equal(ra.count, rb.count, `step ${s}: count`);
    }
    const probe = toyBatch(1);
    assert.ok(maxDiff(await a.predict(probe.x, probe.xShape), await b.predict(probe.x, probe.xShape)) <= 1e-4, 'predict after 3 steps');
    a.dispose();
    b.dispose();
  });

  test('with dropout: same predict and evaluate before training (dropout off), to 1e-4', async () => {
    const [a, b] = [await createTfjsEngine(smallModel(), OPTS), await createOrtEngine(smallModel(), OPTS)];
    const probe = toyBatch(1);
    assert.ok(maxDiff(await a.predict(probe.x, probe.xShape), await b.predict(probe.x, probe.xShape)) <= 1e-5, 'predict');
    const [ea, eb] = [await a.evaluate(probe), await b.evaluate(probe)];
    assert.ok(Math.abs(ea.loss - eb.loss) <= 1e-4, `evaluate loss tfjs ${ea.loss} vs ort ${eb.loss}`);
    assert.equal(ea.correct, eb.correct);
    a.dispose();
    b.dispose();
  });
});
