import { createHash } from 'node:crypto';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: tiny, fast and good enough for simulation; unlike Math.random it can be seeded,
 * which is what makes a training run reproducible byte for byte.
 */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from any text: the first four bytes of its sha256, so nearby strings give unrelated seeds. */
export function seedFromString(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** Standard normal samples by Box-Muller; 1 - u keeps the logarithm away from zero. */
export function gaussian(rng: Rng): () => number {
  return () => {
    const u = 1 - rng();
    const v = rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}
