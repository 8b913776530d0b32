import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { checkWeights, type TrainingEngine } from '../train/engine.js';

/**
 * The TrainingEngine face of a head that is computed, not trained (prototype / kNN): predict and
 * evaluate run the head model; there is nothing to step.
 */
export function staticHeadEngine(model: tf.LayersModel): TrainingEngine {
  const predict = async (x: Float32Array, shape: number[]) =>
    tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
  return {
    name: 'static-head',
    async trainStep() {
      throw new GraftError('E_HEAD_FEW_SHOT', 'A prototype or kNN head has no gradient steps.');
    },
    predict,
    async evaluate(b) {
      const p = await predict(b.x, b.xShape);
      const k = p.length / b.y.length;
      let loss = 0;
      let correct = 0;
      for (let i = 0; i < b.y.length; i++) {
        const row = p.subarray(i * k, (i + 1) * k);
        loss -= Math.log(Math.max(row[b.y[i]!]!, 1e-7));
        let best = 0;
        for (let c = 1; c < k; c++) if (row[c]! > row[best]!) best = c;
        if (best === b.y[i]) correct++;
      }
      return { loss: loss / Math.max(1, b.y.length), correct, count: b.y.length };
    },
    // Copies both ways: the caller's arrays never alias the model's buffers.
    getWeights: () => model.weights.map((w) => (w.read().dataSync() as Float32Array).slice()),
    setWeights(ws) {
      checkWeights(model.weights, ws);
      model.weights.forEach((w, i) => {
        const t = tf.tensor(ws[i]!, w.shape as number[]);
        w.write(t);
        t.dispose();
      });
    },
    getState() {
      return { weights: this.getWeights(), optimizer: [], steps: [], rng: 0 };
    },
    setState(st) {
      this.setWeights(st.weights);
    },
    async syncToModel() {},
    dispose() {},
  };
}
