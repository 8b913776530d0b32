import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { GraftError } from '../errors.js';
import { withStagedDir, writeSyncedFile } from './atomic.js';

/**
 * The resume checkpoint of a training run: one folder `resume/` inside `<out>.checkpoint/` holding
 * `state.json` (the tree, with every Float32Array replaced by a reference into the binary file)
 * and `state.bin` (those arrays, back to back). The folder is written staged and swapped in, so a
 * kill at any moment leaves the previous checkpoint or the new one, never a mix; both files carry
 * a sha256 in `state.json`'s envelope and a mismatch is reported, never used.
 */
export const RESUME_DIR = 'resume';
const FORMAT = 'graft-checkpoint/1';

interface Envelope {
  format: string;
  /** sha256 of `state.bin`. */
  bin: string;
  /** sha256 of the JSON text of `tree`. */
  tree: string;
  value: unknown;
}

/** Write `value` (JSON values, Float32Arrays, ±Infinity and NaN) as the checkpoint in `ckptDir`. */
export async function writeCheckpoint(ckptDir: string, value: unknown): Promise<void> {
  const arrays: Float32Array[] = [];
  let offset = 0;
  const encode = (v: unknown): unknown => {
    if (v instanceof Float32Array) {
      arrays.push(v);
      const ref = { $f32: [offset, v.length] };
      offset += v.length;
      return ref;
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
    if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : encode(x)));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, encode(x)]));
    return v;
  };
  const tree = encode(value);
  const bin = new Uint8Array(offset * 4);
  let at = 0;
  for (const a of arrays) {
    bin.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  const text = JSON.stringify(tree);
  const env: Envelope = { format: FORMAT, bin: sha256(bin), tree: sha256(text), value: tree };
  await withStagedDir(path.join(ckptDir, RESUME_DIR), async (dir) => {
    writeSyncedFile(path.join(dir, 'state.bin'), bin);
    writeSyncedFile(path.join(dir, 'state.json'), JSON.stringify(env));
  });
}

/**
 * The checkpoint in `ckptDir`, or undefined when there is none. Throws GraftError
 * 'E_CHECKPOINT_DAMAGED' naming the file when it is unreadable or fails its checksum.
 */
export function readCheckpoint(ckptDir: string): unknown {
  const dir = path.join(ckptDir, RESUME_DIR);
  const jsonFile = path.join(dir, 'state.json');
  if (!fs.existsSync(jsonFile)) return undefined;
  const damaged = (why: string) => new GraftError('E_CHECKPOINT_DAMAGED', `The training checkpoint ${dir} is damaged: ${why}.`, 'Start the run over (--restart); the checkpoint is Graft\'s own and is replaced.');
  let env: Envelope;
  let bin: Buffer;
  try {
    env = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as Envelope;
    bin = fs.readFileSync(path.join(dir, 'state.bin'));
  } catch (e) {
    throw damaged((e as Error).message.split('\n')[0]!);
  }
  if (env.format !== FORMAT) throw damaged(`unknown format ${JSON.stringify(env.format)}`);
  if (sha256(bin) !== env.bin) throw damaged('state.bin does not match its sha256');
  if (sha256(JSON.stringify(env.value)) !== env.tree) throw damaged('state.json does not match its sha256');
  const data = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const decode = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(decode);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o.$f32)) {
        const [off, len] = o.$f32 as [number, number];
        if (off + len > data.length) throw damaged('an array lies outside state.bin');
        return data.slice(off, off + len);
      }
      if (typeof o.$num === 'string') return Number(o.$num);
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x)]));
    }
    return v;
  };
  return decode(env.value);
}

const sha256 = (b: string | Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');
