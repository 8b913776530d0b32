#!/usr/bin/env node
import { Command } from 'commander';
import { GRAFT_VERSION } from '../io/manifest.js';
import { isGraftError } from '../errors.js';
import { registerModels } from './models.js';
import { registerEmbed } from './embed.js';
import { registerTrain } from './train.js';
import { registerEval } from './eval.js';
import { registerPredict } from './predict.js';
import { registerExport } from './export.js';
import { registerDemo } from './demo.js';
import { registerLrFind } from './lr-find.js';
import { registerAdapt } from './adapt.js';
import { registerShift } from './shift.js';
import { registerCurve } from './curve.js';
import { registerServe } from './serve.js';
import { registerStudio } from './studio.js';

/** The `graft` command line: one file per verb, each a thin layer over the library. */
export function buildCli(): Command {
  const program = new Command();
  program
    .name('graft')
    .description('Transfer learning for images in Node: pretrained backbones, new heads, fine-tuning, reports.')
    .version(GRAFT_VERSION)
    .showHelpAfterError();
  registerDemo(program);
  registerModels(program);
  registerEmbed(program);
  registerTrain(program);
  registerLrFind(program);
  registerEval(program);
  registerPredict(program);
  registerExport(program);
  registerShift(program);
  registerAdapt(program);
  registerCurve(program);
  registerServe(program);
  registerStudio(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    if (isGraftError(e)) {
      process.stderr.write(`graft: ${e.code}: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
}

const invokedDirectly = process.argv[1] && /(?:graft(?:\.js)?|main\.[jt]s)$/.test(process.argv[1]);
if (invokedDirectly) await main();
