import type { Command } from 'commander';
import { num } from './parse.js';
import { addTrainOptions, collectTrainOptions, eventPrinter } from './train.js';

export function registerLrFind(program: Command): void {
  const cmd = program
    .command('lr-find <data>')
    .description('learning-rate range test: plots loss vs learning rate and suggests a rate')
    .option('--plot <file>', 'write the plot as SVG', 'lr-find.svg')
    .option('--steps <n>', 'steps of the sweep', num, 100)
    .option('--json', 'print JSON');
  addTrainOptions(cmd).action(async (data: string, flags: Record<string, unknown>) => {
      // Loaded on use: `graft predict` and `--help` should not pay for TF.js.
      const { findLearningRate } = await import('../workflow/lr-find.js');
    const { plot, steps, json, ...rest } = flags as { plot: string; steps: number; json?: boolean; quiet?: boolean };
    const opts = collectTrainOptions(data, rest, { out: '(lr-find)' });
    const r = await findLearningRate(opts as never, { svg: plot, steps, onEvent: eventPrinter(Boolean(rest.quiet)) });
    if (json) {
      process.stdout.write(JSON.stringify({ suggestion: r.suggestion, suggestions: r.suggestions, lrs: r.lrs, losses: r.losses }) + '\n');
      return;
    }
    // A small text plot for the terminal: loss against log10(lr).
    const rows = 12;
    const lo = Math.min(...r.losses);
    const hi = Math.min(Math.max(...r.losses), lo * 4);
    const step = Math.max(1, Math.floor(r.lrs.length / 60));
    const cols = r.lrs.filter((_, i) => i % step === 0).map((_, j) => r.losses[j * step]!);
    for (let y = rows - 1; y >= 0; y--) {
      const t = lo + ((hi - lo) * y) / (rows - 1);
      process.stdout.write(`${t.toFixed(3).padStart(8)} |${cols.map((v) => (Math.abs(v - t) <= (hi - lo) / (2 * (rows - 1)) ? '*' : ' ')).join('')}\n`);
    }
    process.stdout.write(`         +${'-'.repeat(cols.length)}\n          lr ${r.lrs[0]!.toExponential(0)} … ${r.lrs.at(-1)!.toExponential(0)} (log scale)\n`);
    process.stdout.write(`suggested learning rate: ${r.suggestion.toExponential(2)} (valley; steepest ${r.suggestions.steep.toExponential(2)}, min/10 ${r.suggestions.minDiv10.toExponential(2)})\nplot: ${plot}\n`);
  });
}
