// One seeded generator for the scripts, the benchmarks and the tests that need plain JS:
// mulberry32, uniform in [0, 1). Written in plain JS so .mjs scripts and TypeScript share it.

/** @param {number} seed @returns {() => number} */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The generator for a string key (its murmur-style hash seeds mulberry32). @param {string} key */
export function rngFromKey(key) {
  let h = 1779033703 ^ key.length;
  for (let i = 0; i < key.length; i++) (h = Math.imul(h ^ key.charCodeAt(i), 3432918353)), (h = (h << 13) | (h >>> 19));
  return mulberry32(h >>> 0);
}
