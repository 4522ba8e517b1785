/**
 * Seeded randomness and the random sampler.
 *
 * Every draw comes from a stream keyed by (study seed, trial number, parameter name), so a
 * suggestion never depends on call order, on restarts, or on which other parameters exist.
 */
import { latticeSize, latticeValue, paramEntries, stepOf, type ParamSpec, type ParamValue, type Params, type SearchSpace } from './space';

/** murmur3's 32-bit finaliser: a cheap bijective mix with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, then fmix32. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

function keyHash(k: number | string): number {
  if (typeof k === 'string') return hashString(k);
  if (!Number.isSafeInteger(k)) throw new Error(`stream keys must be safe integers, got ${k}`);
  const hi = Math.floor(k / 2 ** 32);
  return fmix32((k >>> 0) ^ fmix32(hi ^ 0x5bd1e995));
}

/** Folds a seed and keys into one 32-bit stream seed (boost-style hash_combine, finalised). */
export function deriveSeed(seed: number, ...keys: Array<number | string>): number {
  let h = keyHash(seed);
  for (const k of keys) h = fmix32((h ^ (keyHash(k) + 0x9e3779b9 + (h << 6) + (h >>> 2))) >>> 0);
  return h;
}

/** sfc32 (Chris Doty-Humphrey's small fast counting PRNG): 128-bit state, passes PractRand. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = seed >>> 0;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.min(Math.floor(this.next() * n), n - 1);
  }
}

export function rngFor(seed: number, ...keys: Array<number | string>): Rng {
  return new Rng(deriveSeed(seed, ...keys));
}

/**
 * One uniform draw from a parameter's domain, like Optuna's RandomSampler: log-uniform for log
 * scales, every lattice point equally likely for steps.
 */
export function sampleUniform(spec: ParamSpec, rng: Rng): ParamValue {
  // rng.below(n) is an integer in 0..n-1, and a space has at least one choice
  if (spec.type === 'categorical') return spec.choices[rng.below(spec.choices.length)]!;
  if (spec.type === 'int' && spec.log) {
    const lo = Math.log(spec.low - 0.5);
    const hi = Math.log(spec.high + 0.5);
    return Math.min(Math.max(Math.round(Math.exp(lo + rng.next() * (hi - lo))), spec.low), spec.high);
  }
  const step = stepOf(spec);
  if (step !== undefined) return latticeValue(spec, step, rng.below(latticeSize(spec, step)));
  const [lo, hi] = spec.log ? [Math.log(spec.low), Math.log(spec.high)] : [spec.low, spec.high];
  const t = lo + rng.next() * (hi - lo);
  return Math.min(Math.max(spec.log ? Math.exp(t) : t, spec.low), spec.high);
}

export function sampleRandom(space: SearchSpace, seed: number, trialNumber: number): Params {
  const out: Params = {};
  for (const [name, spec] of paramEntries(space)) out[name] = sampleUniform(spec, rngFor(seed, trialNumber, name));
  return out;
}
