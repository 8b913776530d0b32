import type { Command } from 'commander';
import { Option } from 'commander';
import { parseTrainOptions, readConfigFile } from '../options.js';
import { trainChoices } from './schema-choices.js';
import { eventPrinter } from './progress.js';
import { num } from './parse.js';

export { eventPrinter };

const intList = (v: string) => v.split(',').filter(Boolean).map(Number);

/**
 * Options shared by `train` and `lr-find`: one flag per key of `trainOptionsSchema` (except `data`,
 * the positional argument, and `out`, which each command adds itself) plus `--config`. Every
 * `.choices()` comes from the schema's enums; test/cli/flags.test.ts checks the mapping both ways.
 */
export function addTrainOptions(cmd: Command): Command {
  return cmd
    .option('--backbone <name>', 'architecture from `graft models`, a Graft model directory (chained transfer), or a .onnx file (frozen)', undefined)
    .option('--weights <src>', "imagenet | nsfwjs | none | path (.h5, model.json) | https:// URL")
    .option('--cut <layer>', "layer or block to cut the backbone at (default auto: the best of its top blocks, by cross-validation)")
    .addOption(new Option('--preprocess <mode>', "pixel preprocessing for a .onnx backbone (default 'torch') or weights that do not set their own").choices(trainChoices('preprocess')))
    .option('--epochs <n>', 'train the head by gradient steps for N epochs (default: the head is solved to convergence)', num)
    .option('--batch-size <n>', 'batch size', num)
    .option('--lr <rate>', 'learning rate (peak rate for one-cycle)', num)
    .addOption(new Option('--optimizer <name>', 'optimiser').choices(trainChoices('optimizer')))
    .option('--momentum <m>', 'SGD momentum', num)
    .option('--weight-decay <wd>', 'weight decay', num)
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices(trainChoices('schedule')))
    .option('--label-smoothing <e>', 'label smoothing', num)
    .addOption(new Option('--class-weights <mode>', 'loss weights for imbalanced folders').choices(trainChoices('classWeights')))
    .addOption(new Option('--head <kind>', 'auto (default: linear heads on one cut, two, or all cuts averaged, or prototypes: whichever cross-validates best) | linear (solved exactly) | dense (gradient-trained) | prototype / knn (computed from embeddings)').choices(trainChoices('head')))
    .option('--k <n>', 'neighbours of the knn head', num)
    .option('--hidden <units>', 'hidden Dense layers of the head, e.g. 256 or 512,128', intList)
    .option('--dropout <p>', 'dropout before the classifier', num)
    .addOption(new Option('--pooling <p>', 'pooling of the feature map').choices(trainChoices('pooling')))
    .option('--fine-tune-blocks <n|all>', 'then unfreeze the top N named blocks, or all of the network (fine-tune recipe)', (v: string) => (v === 'all' ? 'all' : Number(v)))
    .option('--fine-tune-epochs <n>', 'epochs of the fine-tune stage (default: half of --epochs)', num)
    .option('--lr-decay <f>', 'discriminative rate ratio between successive blocks', num)
    .option('--fine-tune-lr-factor <f>', 'learning rate of the fine-tune stage, as a fraction of --lr', num)
    .option('--no-fine-tune-trial', 'do not try fine-tuning from the chosen cut (by default tried from 1,000 labelled images, kept only when it wins on the held-out split)')
    .option('--augment', 'training augmentation (flip, crop, rotation, colour)')
    .option('--seed <s>', 'random seed', num)
    .option('--val-split <f>', 'fraction held out for validation', num)
    .option('--val <dir>', 'explicit validation folder or manifest')
    .option('--allow-outside', "let manifests list images outside the manifest's own folder")
    .option('--test <dir>', 'test folder or manifest (reported instead of validation)')
    .option('--input-size <px>', 'input size (default: the weights\' size; from scratch: the images\' own)', num)
    .option('--time-budget <seconds>', 'bound the cut/head search and gradient training to this many seconds from the start', num)
    .option('--early-stopping <patience>', 'stop when validation loss stalls (restores best weights)', num)
    .option('--train-bn-stats', 'keep training BatchNormalization statistics of unfrozen layers')
    .option('--micro-batch <n>', 'split batches for gradient accumulation (memory)', num)
    .addOption(new Option('--engine <name>', 'training engine: onnxruntime training graphs, or TF.js wasm').choices(trainChoices('engine')))
    .option('--no-report', 'do not write report.html')
    .option('--no-onnx', 'do not write model.onnx')
    .option('--cache-dir <dir>', 'cache folder (default $GRAFT_HOME)')
    .option('--config <file>', 'read options from a JSON or YAML file (flags override it)')
    .option('--force', "replace Graft's own earlier output at --out (never anything else)")
    .option('--resume', 'continue the interrupted run from its checkpoint (<out>.checkpoint); without it a run resumes when the checkpoint is its own')
    .option('--restart', 'ignore a checkpoint beside --out and start over')
    .option('--log <file>', 'also write every event (stages, progress, warnings) to this file as JSON lines')
    .option('--quiet', 'no progress output');
}

/** Turn commander's parsed flags (+ --config file) into validated training options. */
export function collectTrainOptions(data: string, flags: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const fromFile = typeof flags.config === 'string' ? readConfigFile(flags.config) : {};
  const merged: Record<string, unknown> = { ...fromFile, data, ...extra };
  for (const [k, v] of Object.entries(flags)) {
    if (k === 'config' || v === undefined) continue;
    merged[k] = v;
  }
  // commander's --no-x defaults to true; only override the file when the flag was given.
  if (flags.report === true && 'report' in fromFile) merged.report = fromFile.report;
  if (flags.onnx === true && 'onnx' in fromFile) merged.onnx = fromFile.onnx;
  if (flags.fineTuneTrial === true && 'fineTuneTrial' in fromFile) merged.fineTuneTrial = fromFile.fineTuneTrial;
  return merged;
}


export function registerTrain(program: Command): void {
  const cmd = program
    .command('train <data>')
    .description('train a classifier on a folder of images (one sub-folder per class) or a CSV/JSON manifest')
    .requiredOption('--out <dir>', 'model directory to write');
  addTrainOptions(cmd).action(async (data: string, flags: Record<string, unknown>) => {
    const opts = parseTrainOptions(collectTrainOptions(data, flags), 'train options');
    const { trainClassifier } = await import('../workflow/train.js');
    const { describeChoice } = await import('../workflow/train-manifest.js');
    const r = await trainClassifier(opts, eventPrinter(opts.quiet));
    const m = r.manifest.metrics;
    process.stdout.write(
      `${String(m.split)} accuracy ${(Number(m.accuracy) * 100).toFixed(1)}% on ${String(m.count)} images; model written to ${r.outDir} (${r.seconds.toFixed(1)} s, backbone ran on ${r.backboneRuns} images)\n`,
    );
    process.stdout.write(`chose: ${describeChoice(r.manifest)}\n`);
    if (r.skipped.length) {
      process.stdout.write(`${r.skipped.length} file(s) skipped:\n${r.skipped.map((s) => `  ${s.path}: ${s.reason}`).join('\n')}\n`);
    }
  });
}
