/** Order statistics for benchmark samples (throughputs in images/s). */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Number of timed samples behind the median. */
  n: number;
}

/**
 * Median of a non-empty list (mean of the two middle values for even lengths).
 *
 * @example
 * median([3, 1, 2]); // 2
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Median, min, max and count of a sample list.
 *
 * @example
 * summarize([10, 12, 11]); // { median: 11, min: 10, max: 12, n: 3 }
 */
export function summarize(xs: readonly number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length };
}
