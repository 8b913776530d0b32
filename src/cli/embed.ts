import type { Command } from 'commander';
import { DEFAULTS } from '../env.js';
import { Option } from 'commander';
import { num } from './parse.js';
import { eventPrinter } from './progress.js';

export function registerEmbed(program: Command): void {
  program
    .command('embed <images...>')
    .description('pooled feature vectors of images (files or folders), computed on onnxruntime')
    .option('--backbone <name>', 'architecture from `graft models`, a .onnx file, or a Graft model directory', DEFAULTS.backbone)
    .option('--weights <src>', 'zoo backbones: imagenet | nsfwjs | none | path | URL (default nsfwjs)')
    .addOption(new Option('--pooling <p>', 'global pooling').choices(['avg', 'max']).default('avg'))
    .option('--batch-size <n>', 'images per onnxruntime batch', num, 16)
    .option('--cut <layer>', 'layer or block (zoo) or graph value (ONNX) to take features from (default: the feature layer)')
    .addOption(new Option('--preprocess <mode>', 'preprocessing the network expects (ONNX default torch; zoo: override the weights\' own)').choices(['caffe', 'tf', 'torch', 'raw01', 'none']))
    .option('--cache-dir <dir>', 'cache folder for compiled graphs (default $GRAFT_HOME)')
    .option('--json', 'print JSON')
    .action(async (images: string[], o: { backbone: string; weights?: string; cacheDir?: string; pooling: 'avg' | 'max'; batchSize: number; json?: boolean; cut?: string; preprocess?: 'caffe' | 'tf' | 'torch' | 'raw01' | 'none' }) => {
      // Loaded on use: `graft predict` and `--help` should not pay for TF.js.
      const { embedImages } = await import('../workflow/embed.js');
      const r = await embedImages(images, { ...o, onEvent: o.json ? undefined : eventPrinter() });
      for (const f of r.failed) process.stderr.write(`skipped ${f.path}: ${f.reason}\n`);
      if (o.json) {
        const out = {
          backbone: r.backbone,
          weights: r.weights,
          dims: r.dims,
          inputSize: r.inputSize,
          preprocess: r.preprocess,
          embeddings: r.embeddings.map((e) => ({ path: e.path, embedding: Array.from(e.embedding, (v) => Math.round(v * 1e6) / 1e6) })),
          failed: r.failed,
        };
        process.stdout.write(JSON.stringify(out) + '\n');
      } else {
        for (const e of r.embeddings) {
          process.stdout.write(`${e.path}\t[${Array.from(e.embedding.slice(0, 4), (v) => v.toFixed(4)).join(', ')}, …] (${r.dims} dims)\n`);
        }
      }
      if (r.embeddings.length === 0) process.exitCode = 1;
    });
}
