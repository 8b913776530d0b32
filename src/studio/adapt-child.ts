// `graft adapt` for the studio, in its own process (TF.js forward passes over the deployment and
// source images: seconds to minutes that must not hold the server's thread). The adapted model
// goes to a staging folder outside the project; the server moves it into .graft/models/vN.
// argv: JSON { model, target, out, method, cacheDir }; every stage message is sent as { event },
// the last message is { done } or { error }.
import { adaptModel, type AdaptMethod } from '../adapt/adapt.js';

const job = JSON.parse(process.argv[2]!) as { model: string; target: string; out: string; method: AdaptMethod; cacheDir?: string };
try {
  const r = await adaptModel(job.model, { target: job.target, method: job.method, out: job.out, cacheDir: job.cacheDir, onEvent: (e) => process.send!({ event: e }) });
  process.send!({ done: { record: r.record, before: r.before, after: r.after, sourceAccuracy: r.sourceAccuracy, seconds: r.seconds } });
} catch (e) {
  process.send!({ error: (e as Error).message });
}
process.disconnect?.();
