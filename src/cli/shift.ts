import type { Command } from 'commander';
import { num } from './parse.js';

/** `graft shift`: is folder B distributed like folder A (before deploying a model to B)? */
export function registerShift(program: Command): void {
  program
    .command('shift <modelDirOrBackbone> <folderA> <folderB>')
    .description('test for a distribution shift between two image folders (MMD, domain classifier, confidence drift)')
    .option('--json', 'print JSON')
    .option('--weights <src>', 'weights of a zoo backbone (default nsfwjs)')
    .option('--permutations <n>', 'permutations of the MMD test', num, 200)
    .option('--seed <n>', 'random seed', num, 42)
    .option('--max-images <n>', 'at most this many images per folder', num, 500)
    .option('--cache-dir <dir>', 'feature / ONNX cache folder')
    .action(async (embedder: string, a: string, b: string, o: { json?: boolean; weights?: string; permutations: number; seed: number; maxImages: number; cacheDir?: string }) => {
      // Loaded on use: `graft predict` and `--help` should not pay for TF.js.
      const { shiftReport } = await import('../adapt/shift.js');
      const r = await shiftReport(embedder, a, b, { weights: o.weights, permutations: o.permutations, seed: o.seed, maxImages: o.maxImages, cacheDir: o.cacheDir });
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      process.stdout.write(`${r.verdict}\n`);
      process.stdout.write(`  MMD² ${r.mmd.toExponential(3)} (p = ${r.pValue.toFixed(4)}, ${r.permutations} permutations, ${r.counts.a} vs ${r.counts.b} images)\n`);
      process.stdout.write(`  domain classifier held-out accuracy ${(r.domainClassifierAccuracy * 100).toFixed(1)}% (50% = indistinguishable)\n`);
      if (r.confidenceDrift) {
        const d = r.confidenceDrift;
        process.stdout.write(`  model confidence ${(d.a.meanMaxProb * 100).toFixed(1)}% on A, ${(d.b.meanMaxProb * 100).toFixed(1)}% on B; unsure (< ${d.a.threshold}) ${(d.a.fractionBelow * 100).toFixed(1)}% vs ${(d.b.fractionBelow * 100).toFixed(1)}%\n`);
      }
      process.stdout.write(`  rule: ${r.rule}\n`);
      for (const s of r.skipped) process.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
    });
}
