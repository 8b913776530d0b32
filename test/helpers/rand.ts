/**
 * Deterministic uniform values in [-0.5, 0.5) from a seeded LCG, without touching tf's RNG
 * (so every backend and engine under test sees identical inputs).
 */
export function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** A linearly separable toy batch: row i has class i % classes, shown as +margin on feature `class`. */
export function separableBatch(n: number, d: number, classes: number, seed: number, margin = 1): { x: Float32Array; xShape: number[]; y: Int32Array } {
  const x = rand(n * d, seed);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    x[i * d + y[i]!] += margin;
  }
  return { x, xShape: [n, d], y };
}
