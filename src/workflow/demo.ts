import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainClassifier } from './train.js';
import { describeChoice } from './train-manifest.js';
import type { GraftEvent, GraftMessageEvent } from '../events.js';

export interface DemoOptions {
  data: string;
  out: string;
  scratch: boolean;
  onEvent?: (e: GraftEvent) => void;
}

export interface DemoResult {
  transfer: { accuracy: number; seconds: number };
  scratch?: { accuracy: number; seconds: number; inputSize: number };
  summary: string;
}

/**
 * Graft's main job on its embedded default: a MobileNetV2 pretrained by nsfwjs (shipped in npm),
 * cut before its head, frozen, with a new 10-class head trained on a small real Fashion-MNIST
 * sample; then the same architecture trained from random weights on the same images, so the
 * value of transfer shows as a number.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  // Exactly what `graft train <folder>` does with no flags (the demo only replaces its own output).
  const t = await trainClassifier({ data: o.data, out: o.out, force: true }, o.onEvent);
  const transfer = { accuracy: Number(t.manifest.metrics.accuracy), seconds: t.seconds };
  let scratch: DemoResult['scratch'];
  if (o.scratch) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-demo-scratch-'));
    try {
      const s = await trainClassifier(
        // The same network from random weights, with the gradient recipe's defaults.
        { data: o.data, out: path.join(tmp, 'model'), weights: 'none', report: false, onnx: false },
        o.onEvent,
      );
      scratch = { accuracy: Number(s.manifest.metrics.accuracy), seconds: s.seconds, inputSize: s.manifest.inputSize[0] };
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const lines = [
    '',
    `Fashion-MNIST sample, ${t.manifest.classes.length} classes, ${Number(t.manifest.dataset.counts.train) + Number(t.manifest.dataset.counts.val)} labelled images, ${String(t.manifest.metrics.count)} test images; Graft's defaults, no tuning`,
    `  transfer (MobileNetV2, nsfwjs weights, frozen backbone + new head): test accuracy ${pct(transfer.accuracy)}  (${transfer.seconds.toFixed(1)} s)`,
    `    chose: ${describeChoice(t.manifest)}`,
  ];
  if (scratch) {
    lines.push(`  from scratch (MobileNetV2, random weights, ${scratch.inputSize}px, whole network):  test accuracy ${pct(scratch.accuracy)}  (${scratch.seconds.toFixed(1)} s)`);
  }
  lines.push(`Model directory: ${t.outDir} (model.json, model.onnx, graft.json, report.html)`);
  lines.push(`Next: graft predict ${o.out} <image>   ·   open ${path.join(o.out, 'report.html')}`);
  return { transfer, scratch, summary: lines.join('\n') };
}
