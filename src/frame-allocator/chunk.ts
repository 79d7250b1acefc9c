/**
 * The buddy allocator's order arithmetic (osdk `frame-allocator` `chunk.rs`): pure functions of
 * frame indices and counts. A chunk of order `o` is `2^o` frames whose first index is a multiple
 * of `2^o`; orders run from 0 to `MAX_ORDER - 1`.
 */
import { MAX_ORDER } from '../region/geometry.js';

/** ceil(log2(n)) for n >= 1: the order of the smallest chunk holding n frames. */
export function greaterOrderOf(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/** floor(log2(n)) for n >= 1: the order of the largest chunk inside n frames. */
export function lesserOrderOf(n: number): number {
  return 31 - Math.clz32(n);
}

/** The largest order a chunk starting at frame `index` can have (its alignment). */
export function maxOrderFrom(index: number): number {
  return index === 0 ? MAX_ORDER - 1 : Math.min(MAX_ORDER - 1, 31 - Math.clz32(index & -index));
}

/** Splits frames `[index, index + n)` into aligned buddy chunks, as `[index, order]` pairs. */
export function splitToChunks(index: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  while (n > 0) {
    const order = Math.min(maxOrderFrom(index), lesserOrderOf(n));
    out.push([index, order]);
    index += 1 << order;
    n -= 1 << order;
  }
  return out;
}
