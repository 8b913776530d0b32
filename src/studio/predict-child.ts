// The inbox's pre-labelling by a trained version, in its own process: onnxruntime-node runs a
// session synchronously on the calling thread, so batches of 224 px images in the server would
// hold its event loop for hundreds of milliseconds. Classifier.predictFiles, as `graft predict`.
// argv: JSON { dir }; messages in: { id, paths }; out: { id, predictions, failed } or { id, error }.
import { Classifier } from '../workflow/predict.js';

const { dir } = JSON.parse(process.argv[2]!) as { dir: string };
const loaded = Classifier.load(dir, { threads: 1 });
loaded.catch(() => undefined);
let chain: Promise<unknown> = Promise.resolve();
process.on('message', (m: { id: number; paths: string[] }) => {
  chain = chain.then(async () => {
    try {
      const r = await (await loaded).predictFiles(m.paths, { top: 1, batchSize: 16 });
      process.send!({ id: m.id, predictions: r.predictions.map((p) => ({ path: p.path, label: p.top[0]!.label, probability: p.top[0]!.probability })), failed: r.failed });
    } catch (e) {
      process.send!({ id: m.id, error: (e as Error).message });
    }
  });
});
process.on('disconnect', () => process.exit(0));
