import fs from 'node:fs';
import path from 'node:path';
import { createStudio, type Studio } from '../../src/studio/server.js';
import { DEMO, tmpDir } from '../workflow/fixtures.js';

export const CLASSES = ['Trouser', 'Bag', 'Sneaker'];

/** `n` demo images of a Fashion-MNIST class (real PNGs shipped in data/demo). */
export function demoImages(cls: string, n: number, offset = 0, split: 'train' | 'test' = 'train'): string[] {
  const dir = path.join(DEMO, split, cls);
  return fs.readdirSync(dir).sort().slice(offset, offset + n).map((f) => path.join(dir, f));
}

/** A studio on an ephemeral port of 127.0.0.1 over a new project, with the tests' fast setup (96 px) and its own cache. */
export async function startStudio(project = path.join(tmpDir('graft-studio-'), 'project'), extra: Record<string, unknown> = {}): Promise<Studio & { base: string; url: string; auth: Record<string, string> }> {
  const s = await createStudio({ project, port: 0, inputSize: 96, cacheDir: path.join(path.dirname(project), 'cache'), logLevel: 'silent', ...extra });
  const url = await s.listen();
  return Object.assign(s, { url, base: url.replace(/\/\?token=.*$/, ''), auth: { authorization: `Bearer ${s.token}` } });
}

/** A multipart body of files (name → bytes). */
export function form(files: { name: string; bytes: Uint8Array; type?: string }[]): FormData {
  const fd = new FormData();
  for (const f of files) fd.append('file', new Blob([new Uint8Array(f.bytes)], { type: f.type ?? 'image/png' }), f.name);
  return fd;
}

export async function upload(s: { base: string; auth: Record<string, string> }, label: string, paths: string[]): Promise<Response> {
  return fetch(`${s.base}/api/images?label=${encodeURIComponent(label)}`, { method: 'POST', headers: s.auth, body: form(paths.map((p) => ({ name: path.basename(p), bytes: fs.readFileSync(p) }))) });
}

export async function json<T = any>(r: Response | Promise<Response>): Promise<T> {
  const res = await r;
  const body = await res.text();
  if (!res.ok) throw new Error(`${res.status}: ${body}`);
  return JSON.parse(body) as T;
}
