import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { trainClassifier } from '../../src/workflow/train.js';
import { createServer, type GraftServer } from '../../src/serve/server.js';
import type { ServeOptions } from '../../src/serve/options.js';
import { makeDataset, tmpDir } from '../workflow/fixtures.js';

/**
 * A real model directory, trained the fast way the workflow tests train (MobileNetV2 at 96 px,
 * the default probe head on a few Fashion-MNIST images: ~2 s), and real JPEG/PNG files made from
 * the test images (upscaled, so they are ordinary photos to the decoder, not 28×28 thumbnails).
 */
export async function makeModel(): Promise<{ dir: string; jpegs: string[]; png: string; root: string }> {
  const ds = makeDataset({ perClass: 6, test: 2 });
  const root = tmpDir('graft-serve-');
  const dir = path.join(root, 'shoes');
  await trainClassifier({ data: ds.root, out: dir, inputSize: 96, cacheDir: path.join(root, 'cache'), quiet: true, report: false });
  const imgs = path.join(root, 'images');
  fs.mkdirSync(imgs);
  const sources = fs.readdirSync(ds.test).flatMap((c) => fs.readdirSync(path.join(ds.test, c)).map((f) => path.join(ds.test, c, f))).sort();
  const jpegs: string[] = [];
  for (const [i, src] of sources.entries()) {
    const out = path.join(imgs, `${i}.jpg`);
    // Different sizes and aspect ratios, so the centre crop is exercised.
    await sharp(src).resize(160 + 40 * (i % 3), 120 + 30 * (i % 2)).jpeg({ quality: 90 }).toFile(out);
    jpegs.push(out);
  }
  const png = path.join(imgs, 'x.png');
  await sharp(sources[0]!).resize(100, 100).png().toFile(png);
  return { dir, jpegs, png, root };
}

/** A started server on an ephemeral port of 127.0.0.1, logging nothing. */
export async function start(opts: Partial<ServeOptions> & { models: ServeOptions['models'] }): Promise<GraftServer & { base: string }> {
  const s = await createServer({ port: 0, logLevel: 'silent', ...opts });
  const base = await s.listen();
  return Object.assign(s, { base });
}

export async function json(res: Response): Promise<any> {
  const t = await res.text();
  try {
    return JSON.parse(t);
  } catch {
    throw new Error(`not JSON (status ${res.status}): ${t.slice(0, 200)}`);
  }
}

/**
 * Send raw bytes on a fresh TCP connection and return everything the server answers until it
 * closes (or `waitMs` passes): for requests fetch() refuses to send (broken framing, huge headers,
 * slow clients).
 */
export function rawHttp(base: string, chunks: (string | Buffer)[], opts: { gapMs?: number; waitMs?: number } = {}): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname);
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, opts.waitMs ?? 5000);
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      if (out) resolve(out);
      else reject(e);
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed) return;
        sock.write(c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    });
  });
}

/** The HTTP status of a raw response ("HTTP/1.1 400 Bad Request…" → 400). */
export const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);

/** A multipart/form-data body with the given file parts. */
export function multipartBody(files: { field: string; filename: string; bytes: Buffer; type?: string }[], boundary = 'graftboundary42'): { body: Buffer; contentType: string } {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${f.filename}"\r\nContent-Type: ${f.type ?? 'image/jpeg'}\r\n\r\n`));
    parts.push(f.bytes, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** RGB8 pixels of a file at the model size, for pixel-tensor requests. */
export async function pixelsOf(file: string, size: number): Promise<Buffer> {
  return sharp(file).resize(size, size).removeAlpha().raw().toBuffer();
}

/** The Inference-Header-Content-Length framing: JSON header, then binary tails. */
export function binaryBody(head: object, tails: Buffer[]): { body: Buffer; headerLength: number } {
  const j = Buffer.from(JSON.stringify(head));
  return { body: Buffer.concat([j, ...tails]), headerLength: j.length };
}

/** BYTES elements for the binary extension: uint32 little-endian length, then the bytes. */
export function bytesElements(items: Buffer[]): Buffer {
  return Buffer.concat(items.flatMap((b) => {
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return [n, b];
  }));
}

/** fetch() that also takes a Buffer body (Node's fetch types want a BodyInit). */
export function fetchB(url: string, init: Omit<RequestInit, 'body'> & { body?: string | Buffer } = {}): Promise<Response> {
  const { body, ...rest } = init;
  return fetch(url, { ...rest, body: Buffer.isBuffer(body) ? new Uint8Array(body) : body });
}
