import fs from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';

/**
 * A model directory as one zip (its files at the top level under `<name>/`), for the Export
 * button. fflate: a small, dependency-free zip writer; model.onnx and weights.bin are stored,
 * not deflated, since float weights hardly compress and stored entries cost no CPU.
 */
export function zipModelDir(dir: string, name: string): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = {};
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    if (!fs.statSync(p).isFile()) continue;
    const binary = f.endsWith('.onnx') || f.endsWith('.bin');
    files[`${name}/${f}`] = [fs.readFileSync(p), { level: binary ? 0 : 6 }];
  }
  return zipSync(files);
}
