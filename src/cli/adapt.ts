import type { Command } from 'commander';
import { num } from './parse.js';
import type { AdaptMethod } from '../adapt/adapt.js';

// Kept in step with ADAPT_METHODS in adapt/adapt.ts (a test checks); the module itself loads on use.
export const CLI_ADAPT_METHODS = ['adabn', 'coral', 'pseudo-label', 'dann'] as const;

/** `graft adapt`: unsupervised domain adaptation of a model directory to unlabelled target images. */
export function registerAdapt(program: Command): void {
  program
    .command('adapt <modelDir>')
    .description('adapt a trained model to a new domain from unlabelled images (adabn | coral | pseudo-label | dann)')
    .requiredOption('--target <folder>', 'unlabelled images of the new domain')
    .requiredOption('--method <m>', CLI_ADAPT_METHODS.join(' | '))
    .requiredOption('--out <modelDir>', 'where to write the adapted model')
    .option('--source <folder>', "labelled source images (default: the model's training data from graft.json)")
    .option('--seed <n>', 'random seed', num, 42)
    .option('--max-source <n>', 'at most this many source images', num)
    .option('--max-target <n>', 'at most this many target images', num)
    .option('--adabn-mode <mode>', "adabn: 'anchored' (map target onto the source's statistics; needs source images) or 'replace' (target statistics)")
    .option('--coral-lambda <l>', 'coral: covariance shrinkage relative to the mean variance', num)
    .option('--threshold <p>', 'pseudo-label: keep target predictions at least this confident', num)
    .option('--per-class <n>', 'pseudo-label: at most this many per predicted class', num)
    .option('--rounds <n>', 'pseudo-label: label/train rounds', num)
    .option('--epochs <n>', 'pseudo-label / dann: epochs of head training', num)
    .option('--lr <rate>', 'pseudo-label / dann: learning rate', num)
    .option('--bottleneck <n>', 'dann: units of the trainable bottleneck', num)
    .option('--domain-weight <w>', 'dann: weight of the reversed domain gradient', num)
    .option('--cache-dir <dir>', 'feature / ONNX cache folder')
    .option('--force', "replace Graft's own earlier output at --out (never anything else)")
    .option('--json', 'print the adaptation record as JSON')
    .action(async (modelDir: string, o: Record<string, string | number | boolean | undefined>) => {
      const method = String(o.method) as AdaptMethod;
      const n = (k: string) => (o[k] === undefined ? undefined : Number(o[k]));
      const { adaptModel } = await import('../adapt/adapt.js');
      const r = await adaptModel(modelDir, {
        target: String(o.target),
        method,
        out: String(o.out),
        force: Boolean(o.force),
        source: o.source as string | undefined,
        seed: n('seed'),
        maxSource: n('maxSource'),
        maxTarget: n('maxTarget'),
        cacheDir: o.cacheDir as string | undefined,
        adabn: { mode: o.adabnMode as 'anchored' | 'replace' | undefined },
        coral: { lambda: n('coralLambda') },
        pseudoLabel: { threshold: n('threshold'), perClass: n('perClass'), rounds: n('rounds'), epochs: n('epochs'), lr: n('lr') },
        dann: { epochs: n('epochs'), lr: n('lr'), bottleneck: n('bottleneck'), domainWeight: n('domainWeight') },
        onEvent: (e) => void (o.json ? undefined : process.stderr.write(`${e.message}\n`)),
      });
      if (o.json) {
        process.stdout.write(JSON.stringify(r.record, null, 2) + '\n');
        return;
      }
      const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
      process.stdout.write(`adapted with ${method} → ${r.outDir}\n`);
      process.stdout.write(`target: mean confidence ${pct(r.before.meanMaxProb)} → ${pct(r.after.meanMaxProb)}; unsure (< ${r.after.threshold}) ${pct(r.before.fractionBelow)} → ${pct(r.after.fractionBelow)}\n`);
      if (r.sourceAccuracy !== undefined) process.stdout.write(`source accuracy after adaptation: ${pct(r.sourceAccuracy)}\n`);
      process.stdout.write('Confidence is not accuracy: check the adapted model on a few labelled target images (graft eval) before deploying.\n');
    });
}
