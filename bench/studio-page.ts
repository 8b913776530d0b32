/**
 * bench:studio, step 4 — frame time in the page (issue 14's "UI responsiveness"): graft studio
 * opened in headless Chromium (Debian's /usr/bin/chromium through playwright-core, as the
 * browser test), the Data page's virtualised grid of one class scrolled a little on every frame
 * (each scroll re-renders the visible rows and loads their thumbnails), and the intervals between
 * requestAnimationFrame callbacks recorded: first for a few seconds with nothing else going on,
 * then for the whole of a training run started meanwhile (its child process competes for the
 * same cores; the page receives its Server-Sent Events). Prints p50 / p99 / max and the share of
 * frames over 50 ms for each phase.
 *
 * Run by `npm run bench:studio` after steps 1–3 (skipped with a note when there is no Chromium),
 * or alone: node --import tsx bench/studio-page.ts [--quick] [--images 1000] [--input-size 224]
 * --quick: 150 images at 96 px. CHROMIUM=/path/to/chrome picks another browser.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createStudio } from '../src/studio/server.js';
// @ts-expect-error: a plain .mjs build script without types
import { buildStudio } from '../scripts/build-studio.mjs';

export interface FrameStats {
  frames: number;
  p50: number;
  p99: number;
  max: number;
  /** Share of intervals over 50 ms. */
  long: number;
}

function stats(d: number[]): FrameStats {
  const s = d.slice().sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? NaN;
  return { frames: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? NaN, long: s.filter((x) => x > 50).length / Math.max(1, s.length) };
}

const CLASSES = ['Bag', 'Sneaker', 'Trouser'];
const DEMO = fileURLToPath(new URL('../data/demo/fashion-mnist/train', import.meta.url));

/** Frame intervals in the studio page while scrolling the grid: idle, then during a training run. */
export async function pageFrameTimes(o: { images: number; inputSize: number; chromium?: string; idleSeconds?: number }): Promise<{ idle: FrameStats; training: FrameStats; trainSeconds: number; status: string } | string> {
  const chromium = o.chromium ?? process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(chromium)) return `no Chromium at ${chromium} (set CHROMIUM=…): frame time in the page not measured`;
  const { chromium: pw } = await import('playwright-core');
  await buildStudio({ minify: true });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-bench-studio-page-'));
  const project = path.join(root, 'project');
  for (let i = 0; i < o.images; i++) {
    const cls = CLASSES[i % CLASSES.length]!;
    const src = fs.readdirSync(path.join(DEMO, cls)).sort();
    fs.mkdirSync(path.join(project, cls), { recursive: true });
    await sharp(path.join(DEMO, cls, src[i % src.length]!)).resize(320, 240, { fit: 'fill' }).tint({ r: 200 + (i % 55), g: 200, b: 200 + ((i * 7) % 55) }).jpeg({ quality: 85 }).toFile(path.join(project, cls, `${i}.jpg`));
  }
  const s = await createStudio({ project, port: 0, inputSize: o.inputSize, cacheDir: path.join(root, 'cache'), logLevel: 'silent' });
  const browser = await pw.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox'] });
  try {
    const url = await s.listen();
    await s.ctx.embedder.settled(); // training then reads cached features, as it does after the studio has embedded a project
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(url);
    await page.click(`li[data-class="${CLASSES[0]}"]`);
    await page.waitForSelector('.grid .tile');
    // Scroll the grid 24 px a frame (back to the top at the end) and record every rAF interval.
    // A string, not a function: tsx's transform would add helpers (__name) the page does not have.
    await page.evaluate(`(() => {
      window.__frames = [];
      window.__rec = true;
      const el = document.querySelector('.grid');
      let last = 0;
      const step = (t) => {
        if (last) window.__frames.push(t - last);
        last = t;
        el.scrollTop = el.scrollTop + 24 >= el.scrollHeight - el.clientHeight ? 0 : el.scrollTop + 24;
        if (window.__rec) requestAnimationFrame(step);
      };
      requestAnimationFrame(step);
    })()`);
    const take = () => page.evaluate('window.__frames.splice(0)') as Promise<number[]>;
    await page.waitForTimeout((o.idleSeconds ?? 3) * 1000);
    const idle = stats(await take());
    const t0 = performance.now();
    const r = await fetch(`${url.replace(/\/\?token=.*/, '')}/api/train`, { method: 'POST', headers: { authorization: `Bearer ${s.token}` } });
    if (r.status !== 202) throw new Error(`POST /api/train: ${r.status} ${await r.text()}`);
    const end = await s.ctx.trainer.done();
    const trainSeconds = (performance.now() - t0) / 1000;
    const training = stats(await take());
    await page.evaluate('window.__rec = false');
    return { idle, training, trainSeconds, status: `${end.version} ${end.status}${end.error ? `: ${end.error.slice(0, 300)}` : ''}` };
  } finally {
    await browser.close();
    await s.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

export function describeFrames(r: Awaited<ReturnType<typeof pageFrameTimes>>, o: { images: number; inputSize: number }): string {
  if (typeof r === 'string') return `4. ${r}`;
  const f = (x: FrameStats) => `p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms, max ${x.max.toFixed(1)} ms, ${(x.long * 100).toFixed(1)}% over 50 ms (${x.frames} frames)`;
  return `4. frame time in the page (headless Chromium, the Data grid of ${Math.ceil(o.images / CLASSES.length)} images scrolled 24 px a frame, ${o.inputSize} px project):\n   idle:            ${f(r.idle)}\n   during training: ${f(r.training)} — ${r.status} in ${r.trainSeconds.toFixed(1)} s`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const val = (n: string) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : undefined);
  const quick = argv.includes('--quick');
  const o = { images: Number(val('--images') ?? (quick ? 150 : 1000)), inputSize: Number(val('--input-size') ?? (quick ? 96 : 224)) };
  console.log(describeFrames(await pageFrameTimes(o), o));
}
