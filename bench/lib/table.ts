/**
 * A GitHub-flavoured Markdown table; numeric-looking cells are right-aligned.
 *
 * @example
 * markdownTable(['model', 'img/s'], [['ResNet50', '26.1']]);
 * // | model | img/s |\n|---|---:|\n| ResNet50 | 26.1 |
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const numeric = header.map((_, c) => rows.length > 0 && rows.every((r) => /^[-–\d.,x× ()]+$/.test(r[c] ?? '')));
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(numeric.map((n) => (n ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

/** A throughput with precision that suits its size: 0.85, 14.8, 205. */
export function fmtRate(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** A ratio as `2.31x`, or `–` when either side is missing. */
export function fmtRatio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return '–';
  return `${(a / b).toFixed(2)}x`;
}
