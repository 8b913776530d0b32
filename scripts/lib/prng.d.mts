export function mulberry32(seed: number): () => number;
export function rngFromKey(key: string): () => number;
