import type { Command } from 'commander';
import { DEFAULTS } from '../env.js';
import { atomicWrite } from '../io/atomic.js';
import { checkFileOut } from '../io/out-target.js';
import { eventPrinter } from './progress.js';
import { GraftError } from '../errors.js';
import { num } from './parse.js';
import type { CurveMethod } from '../workflow/curve.js';

// Kept in step with CURVE_METHODS in workflow/curve.ts (a test checks); the module loads on use.
export const CLI_CURVE_METHODS = ['default', 'prototype', 'knn', 'head', 'fine-tune', 'scratch', 'small-cnn'] as const;

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new GraftError('E_BAD_OPTIONS', `--${name} must be a positive integer. Received: ${v}.`);
  return n;
};

/**
 * `graft curve <trainDir> --test <dir> --labels-per-class 1,5,10,25,all [--seeds 3] [--json]`:
 * learning curves of transfer vs from-scratch training (see `learningCurve`).
 */
export function registerCurve(program: Command): void {
  program
    .command('curve <train>')
    .description('learning curves: accuracy vs labelled images per class, transfer vs from scratch')
    .requiredOption('--test <dir>', 'held-out test folder or manifest (same classes)')
    .option('--labels-per-class <list>', 'budgets, comma-separated, "all" for the whole pool', '1,5,10,25,all')
    .option('--seeds <n>', 'repeats with different samples', int('seeds'), 3)
    .option('--seed <n>', 'base seed', num, 42)
    .option('--methods <list>', `any of ${CLI_CURVE_METHODS.join(',')}`, CLI_CURVE_METHODS.join(','))
    .option('--backbone <name>', 'backbone: a zoo architecture, a .onnx file or a Graft model directory', DEFAULTS.backbone)
    .option('--weights <source>', 'zoo backbone weights', DEFAULTS.weights)
    .option('--epochs <n>', 'epochs of the trained head', int('epochs'), 10)
    .option('--fine-tune-epochs <n>', 'epochs of the fine-tuning stage', int('fine-tune-epochs'))
    .option('--scratch-epochs <n>', 'epochs of the from-scratch runs', int('scratch-epochs'), 30)
    .option('--scratch-size <n>', 'input size of the from-scratch runs', int('scratch-size'), 32)
    .option('--min-steps <n>', 'least gradient steps per trained run', int('min-steps'), 100)
    .option('--k <n>', 'neighbours of the kNN head', int('k'), 5)
    .option('--cache-dir <dir>', 'feature/ONNX cache folder')
    .option('--allow-outside', "let manifests list images outside the manifest's own folder")
    .option('--out <file>', 'write the HTML plot here', 'curve.html')
    .option('--force', "replace Graft's own earlier plot at --out (never anything else)")
    .option('--json', 'print the full result as JSON on stdout')
    .option('--quiet', 'no progress lines')
    .action(async (train: string, f: Record<string, unknown>) => {
      checkFileOut(String(f.out), { force: Boolean(f.force), protect: [train, String(f.test)] });
      const methods = String(f.methods).split(',').map((s) => s.trim()) as CurveMethod[];
      const { learningCurve, parseBudgets } = await import('../workflow/curve.js');
      const { renderCurveHtml } = await import('../workflow/curve-html.js');
      const r = await learningCurve({
        train,
        test: String(f.test),
        budgets: parseBudgets(String(f.labelsPerClass)),
        seeds: f.seeds as number,
        seed: f.seed as number,
        methods,
        backbone: String(f.backbone),
        weights: String(f.weights),
        epochs: f.epochs as number,
        fineTuneEpochs: f.fineTuneEpochs as number | undefined,
        scratchEpochs: f.scratchEpochs as number,
        scratchSize: f.scratchSize as number,
        minSteps: f.minSteps as number,
        k: f.k as number,
        cacheDir: f.cacheDir as string | undefined,
        allowOutside: f.allowOutside === true,
        onEvent: eventPrinter(Boolean(f.quiet)),
      });
      await atomicWrite(String(f.out), renderCurveHtml(r));
      if (f.json) {
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      const budgets = [...new Set(r.summary.map((s) => `${s.budget}`))];
      process.stdout.write(`method       ${budgets.map((b) => `${b}/class`.padStart(18)).join('')}\n`);
      for (const m of [...new Set(r.summary.map((s) => s.method))]) {
        const cells = budgets.map((b) => {
          const s = r.summary.find((x) => x.method === m && `${x.budget}` === b);
          return (s ? `${(s.mean * 100).toFixed(1)}±${(s.sd * 100).toFixed(1)} ${s.seconds.toFixed(1)}s` : '—').padStart(18);
        });
        process.stdout.write(`${m.padEnd(13)}${cells.join('')}\n`);
      }
      process.stdout.write(`accuracy % mean±sd over ${r.options.seeds} seed(s), mean wall seconds per run; plot: ${String(f.out)}\n`);
    });
}
