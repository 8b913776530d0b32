// `graft shift` for the studio, in its own process (it embeds both folders: seconds to minutes of
// onnxruntime that must not hold the server's thread): is the deployment folder distributed
// like the project's training images, through the version's own features and confidence?
// argv: JSON { model, a, b, cacheDir }; the one message out is { report } or { error }.
import { shiftReport } from '../adapt/shift.js';

const job = JSON.parse(process.argv[2]!) as { model: string; a: string; b: string; cacheDir?: string };
try {
  const report = await shiftReport(job.model, job.a, job.b, { cacheDir: job.cacheDir });
  process.send!({ report });
} catch (e) {
  process.send!({ error: (e as Error).message });
}
process.disconnect?.();
