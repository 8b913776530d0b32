/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function, top N, with
 * the share of samples. Only the main JS thread is profiled: onnxruntime's and libvips' native
 * threads show up as `(idle)`/`(program)` time while the main thread awaits them.
 *
 *   node --import tsx bench/e2e/profile-summary.ts PROFILE.cpuprofile [N]
 */
import fs from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/**
 * @example
 * summarize(JSON.parse(fs.readFileSync('x.cpuprofile', 'utf8')), 15);
 */
export function summarize(p: Profile, top = 20): { name: string; ms: number; share: number }[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
    const f = n.callFrame;
    const file = f.url ? f.url.replace(/^.*\/(node_modules\/[^/]+|src|bench)\//, '$1/') : '';
    const key = `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((s, v) => s + v, 0);
  return [...self.entries()].sort((x, y) => y[1] - x[1]).slice(0, top).map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: Number((us / total).toFixed(3)) }));
}

if (process.argv[1]?.endsWith('profile-summary.ts')) {
  const [file, n] = process.argv.slice(2);
  const p = JSON.parse(fs.readFileSync(file!, 'utf8')) as Profile;
  for (const r of summarize(p, Number(n ?? 20))) console.log(`${String(r.ms).padStart(7)} ms ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`);
}
