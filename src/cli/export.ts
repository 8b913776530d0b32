import type { Command } from 'commander';
import { Option } from 'commander';
import { exportModelDir } from '../pipeline/export.js';

export function registerExport(program: Command): void {
  program
    .command('export <modelDir>')
    .description('write a trained model as a TF.js layers model or an ONNX model')
    .addOption(new Option('--format <fmt>', 'artifact format').choices(['tfjs', 'onnx']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'output folder')
    .action(async (modelDir: string, o: { format: 'tfjs' | 'onnx'; out: string }) => {
      const files = await exportModelDir(modelDir, o.format, o.out);
      process.stdout.write(`wrote ${files.join(', ')}\n`);
    });
}
