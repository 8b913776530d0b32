/**
 * A small seeded PRNG (mulberry32) for everything random in the data path: splits, shuffles,
 * augmentation. Not cryptographic; chosen because it is tiny, fast and identical on every platform.
 *
 * Randomness that must not depend on decode order (augmenting items decoded concurrently) derives
 * one generator per item with {@link deriveSeed}, instead of sharing one stream.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator's whole state: a later `setState` of it continues the same stream. */
  getState(): number {
    return this.state;
  }

  setState(state: number): void {
    this.state = state >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * Fisher–Yates shuffle in place; returns the same array.
   *
   * @example
   * new Rng(42).shuffle([0, 1, 2, 3]); // same order every run
   */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}

/**
 * Mix a seed with further integers or strings into a new 32-bit seed (FNV-1a over the parts, then
 * a murmur finaliser), so sub-streams (epoch, item index, purpose) are independent.
 *
 * @example
 * const rng = new Rng(deriveSeed(seed, 'augment', epoch, index));
 */
export function deriveSeed(seed: number, ...parts: Array<number | string>): number {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h ^= x & 0xff;
    h = Math.imul(h, 0x01000193);
  };
  const word = (x: number) => {
    for (let k = 0; k < 4; k++) mix(x >>> (8 * k));
  };
  word(seed >>> 0);
  for (const p of parts) {
    if (typeof p === 'number') word(Math.floor(p) >>> 0);
    else for (let i = 0; i < p.length; i++) word(p.charCodeAt(i));
    mix(0xff);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
