// The test workers' random numbers: a xorshift32 generator from a seed (0 counts as 1), so that a
// run can be replayed from the seed it reports.

/**
 * A function returning the next 32-bit unsigned number of the xorshift32 sequence from `seed`.
 * @param {number} seed
 * @returns {() => number}
 */
export function xorshift(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
