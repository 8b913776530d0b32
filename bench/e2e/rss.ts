/**
 * Workload 4: peak resident memory of training a head (MobileNetV2, frozen, cached features) on
 * folders of growing size. Each size runs in its own process; the child reports VmHWM and the
 * parent samples /proc/<pid>/status VmRSS every 200 ms, so the curve's flatness is visible.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { REPO, log, round } from './common.js';

export interface RssRow {
  images: number;
  /** Peak RSS the child reported (VmHWM), MiB. */
  peakMiB: number;
  /** Highest VmRSS sampled from outside, MiB. */
  sampledPeakMiB: number;
  /** VmRSS samples, MiB, one per 200 ms (thinned to at most 40). */
  curveMiB: number[];
  seconds: number;
  cpuUtilisation: number;
}

function readRssMiB(pid: number): number | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(s);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * @example
 * const row = await benchRss(dir, 20000, 10);
 */
export async function benchRss(dir: string, images: number, epochs: number, timeoutMs = 600_000): Promise<RssRow> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-bench-rss-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'bench', 'e2e', 'rss-child.ts'), dir, work, String(epochs)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const samples: number[] = [];
    const timer = setInterval(() => {
      const v = readRssMiB(child.pid!);
      if (v !== undefined) samples.push(v);
    }, 200);
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    clearInterval(timer);
    clearTimeout(kill);
    const last = out.trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{')) throw new Error(`rss child failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
    const r = JSON.parse(last) as { vmHwmMiB: number; seconds: number; cpuSeconds: number };
    const step = Math.max(1, Math.ceil(samples.length / 40));
    const row: RssRow = {
      images,
      peakMiB: round(r.vmHwmMiB, 0),
      sampledPeakMiB: round(Math.max(0, ...samples), 0),
      curveMiB: samples.filter((_, i) => i % step === 0).map((v) => round(v, 0)),
      seconds: round(r.seconds, 1),
      cpuUtilisation: round(r.cpuSeconds / (r.seconds * os.cpus().length), 3),
    };
    log(`  [rss] ${images} images: peak ${row.peakMiB} MiB (sampled ${row.sampledPeakMiB}), ${row.seconds} s`);
    return row;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
