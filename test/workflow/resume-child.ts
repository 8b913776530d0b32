// A training run for the resume tests, in its own process: `node --import tsx resume-child.ts
// '<options json>' [stage epoch batch | message <prefix>]`. With a kill point it SIGKILLs itself
// (kill -9: no handler runs, no file is closed) when that batch of that stage's epoch has
// trained, or when a stage message starting with <prefix> is reported.
import { trainClassifier } from '../../src/workflow/train.js';
import { isGraftError } from '../../src/errors.js';

const opts = JSON.parse(process.argv[2]!) as Parameters<typeof trainClassifier>[0];
const [stage, epoch, batch] = process.argv.slice(3);
const messages: string[] = [];
try {
  await trainClassifier(opts, (e) => {
    if (e.type === 'warning' || e.type === 'stage' || e.type === 'info') messages.push(`${e.type}: ${e.message}`);
    if (stage === 'message' && e.type === 'stage' && e.message.startsWith(epoch!)) process.kill(process.pid, 'SIGKILL');
    if (stage && e.type === 'progress' && e.task === 'train' && e.label === `${stage} epoch ${epoch}/${e.label.split('/')[1]}` && e.loaded === Number(batch)) {
      process.kill(process.pid, 'SIGKILL');
    }
  });
  process.stdout.write(JSON.stringify({ ok: true, messages }));
} catch (e) {
  if (!isGraftError(e)) throw e;
  process.stdout.write(JSON.stringify({ ok: false, code: e.code, message: e.message, messages }));
}
