import sharp from 'sharp';

/**
 * The typical (median) shorter side of a few images, or undefined when none can be read.
 * Used to pick the from-scratch input size: no point training at 224 px on 28 px images.
 */
export async function probeImageSize(paths: string[]): Promise<number | undefined> {
  const sides: number[] = [];
  for (const p of paths) {
    try {
      const m = await sharp(p).metadata();
      if (m.width && m.height) sides.push(Math.min(m.width, m.height));
    } catch {
      /* unreadable files are reported by the decoder, not here */
    }
  }
  if (sides.length === 0) return undefined;
  sides.sort((a, b) => a - b);
  return sides[Math.floor(sides.length / 2)];
}
