import type { Command } from 'commander';

export function registerEval(program: Command): void {
  program
    .command('eval <modelDir> <data>')
    .description('evaluate a trained model on a labelled folder or manifest')
    .option('--json', 'print JSON (accuracy, perClass, confusion, ...)')
    .option('--report <file>', 'also write an HTML report of this evaluation')
    .option('--force', "replace Graft's own earlier report at --report (never anything else)")
    .option('--allow-outside', "let a manifest list images outside the manifest's own folder")
    .action(async (modelDir: string, data: string, o: { json?: boolean; report?: string; force?: boolean; allowOutside?: boolean }) => {
      // Loaded on use: `graft predict` and `--help` should not pay for TF.js.
      const { evaluateModelDir } = await import('../workflow/evaluate.js');
      const r = await evaluateModelDir(modelDir, data, { report: o.report, force: o.force, allowOutside: o.allowOutside === true });
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      process.stdout.write(`accuracy ${(r.accuracy * 100).toFixed(2)}% on ${r.count} images (${r.skipped.length} skipped)\n`);
      const w = Math.max(...r.perClass.map((c) => c.class.length), 5);
      process.stdout.write(`${'class'.padEnd(w)}  precision  recall  f1     support\n`);
      for (const c of r.perClass) {
        process.stdout.write(`${c.class.padEnd(w)}  ${c.precision.toFixed(3).padStart(9)}  ${c.recall.toFixed(3).padStart(6)}  ${c.f1.toFixed(3)}  ${String(c.support).padStart(7)}\n`);
      }
      for (const s of r.skipped) process.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
    });
}
