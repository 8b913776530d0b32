import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { eventPrinter } from './train.js';

export const DEMO_DATA = fileURLToPath(new URL('../../data/demo/fashion-mnist', import.meta.url));

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train a real classifier on the bundled Fashion-MNIST sample with the embedded MobileNetV2, and the same from scratch')
    .option('--out <dir>', "model directory to write (replaces the demo's own earlier output, never anything else)", 'graft-demo-model')
    .option('--no-scratch', 'skip the from-scratch baseline')
    .option('--quiet', 'only the summary')
    .action(async (o: { out: string; scratch: boolean; quiet?: boolean }) => {
      // Loaded on use: `graft predict` and `--help` should not pay for TF.js.
      const { runDemo } = await import('../workflow/demo.js');
      const r = await runDemo({ data: DEMO_DATA, ...o, onEvent: eventPrinter(o.quiet) });
      process.stdout.write(r.summary + '\n');
    });
}
