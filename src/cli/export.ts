import type { Command } from 'commander';
import { Option } from 'commander';

export function registerExport(program: Command): void {
  program
    .command('export <modelDir>')
    .description('write a trained model as a TF.js layers model or an ONNX model')
    .addOption(new Option('--format <fmt>', 'artifact format').choices(['tfjs', 'onnx']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'output folder (new, empty, or an earlier export with --force)')
    .option('--force', "replace Graft's own earlier export at --out (never anything else)")
    .action(async (modelDir: string, o: { format: 'tfjs' | 'onnx'; out: string; force?: boolean }) => {
      // Loaded on use: `graft predict` and `--help` should not pay for TF.js.
      const { exportModelDir } = await import('../workflow/export.js');
      const files = await exportModelDir(modelDir, o.format, o.out, { force: o.force });
      process.stdout.write(`wrote ${files.join(', ')}\n`);
    });
}
