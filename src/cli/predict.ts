import type { Command } from 'commander';
import { num } from './parse.js';
import { Classifier } from '../workflow/predict.js';

export function registerPredict(program: Command): void {
  program
    .command('predict <modelDir> <inputs...>')
    .description('classify image files or folders with a trained model (onnxruntime)')
    .option('--top <k>', 'classes to show per image', num, 3)
    .option('--json', 'print JSON')
    .action(async (modelDir: string, inputs: string[], o: { top: number; json?: boolean }) => {
      const clf = await Classifier.load(modelDir);
      const { predictions, failed } = await clf.predictFiles(inputs, { top: o.top });
      clf.dispose();
      if (o.json) {
        process.stdout.write(JSON.stringify({ predictions: predictions.map(({ path, top }) => ({ path, top })), failed }, null, 2) + '\n');
      } else {
        for (const p of predictions) {
          process.stdout.write(`${p.path}\n${p.top.map((t) => `  ${t.label.padEnd(24)} ${(t.probability * 100).toFixed(1).padStart(5)}%`).join('\n')}\n`);
        }
        for (const f of failed) process.stderr.write(`skipped ${f.path}: ${f.error}\n`);
      }
      if (predictions.length === 0) process.exitCode = 1;
    });
}
