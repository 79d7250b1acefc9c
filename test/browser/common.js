// Shared by page.js, worker.js and browser.test.ts: the byte patterns the page and the worker
// write into frames (the test recomputes what each side must have seen), and how a region's
// memory is described in the result. Plain ESM, no dependencies.

/** The seed of the pattern the page writes into the frame it hands over. */
export const PAGE_SEED = 0x3b;
/** The seed of the pattern the worker writes back into the same frame. */
export const REPLY_SEED = 0xc5;
/** The seed of the frame the worker drops itself (the last drop happens in the worker). */
export const DROP_SEED = 0x71;
/** The seed of the frame the worker sends back through a FrameChannel. */
export const CHANNEL_SEED = 0x9d;

/**
 * Byte `i` of the pattern with seed `seed`: varies with the position inside and across 256-byte
 * blocks, so a shifted, truncated or stale copy does not match.
 * @param {number} seed
 * @param {number} i
 * @returns {number}
 */
export function patternByte(seed, i) {
  return (i * seed + (i >> 8) * (seed ^ 0x35) + seed * seed) & 0xff;
}

/**
 * Writes the pattern over all of `bytes`.
 * @param {Uint8Array} bytes
 * @param {number} seed
 */
export function fillPattern(bytes, seed) {
  for (let i = 0; i < bytes.length; i++) bytes[i] = patternByte(seed, i);
}

/**
 * How many bytes of `bytes` differ from the pattern.
 * @param {Uint8Array} bytes
 * @param {number} seed
 * @returns {number}
 */
export function mismatches(bytes, seed) {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== patternByte(seed, i)) n++;
  return n;
}

/**
 * What one side saw in a frame: its length, a 32-bit FNV-1a hash of every byte, the first and
 * last 8 bytes, and how many bytes differ from the pattern it expected.
 * @typedef {{ length: number, hash: number, head: number[], tail: number[], mismatches: number }} Seen
 */

/**
 * @param {Uint8Array} bytes
 * @param {number} seed the pattern expected
 * @returns {Seen}
 */
export function seen(bytes, seed) {
  return {
    length: bytes.length,
    hash: fnv1a(bytes),
    head: Array.from(bytes.subarray(0, 8)),
    tail: Array.from(bytes.subarray(bytes.length - 8)),
    mismatches: mismatches(bytes, seed),
  };
}

/**
 * 32-bit FNV-1a of `bytes`.
 * @param {Uint8Array} bytes
 * @returns {number}
 */
export function fnv1a(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/**
 * What kind of memory a region lives in, as `sys.handle.memory` shows it after a `postMessage`.
 * @param {unknown} memory
 * @returns {'SharedArrayBuffer' | 'shared WebAssembly.Memory' | string}
 */
export function describeMemory(memory) {
  if (typeof SharedArrayBuffer !== 'undefined' && memory instanceof SharedArrayBuffer) return 'SharedArrayBuffer';
  if (typeof WebAssembly !== 'undefined' && memory instanceof WebAssembly.Memory) {
    return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer ? 'shared WebAssembly.Memory' : 'unshared WebAssembly.Memory';
  }
  return Object.prototype.toString.call(memory);
}

/** @typedef {{ name: string, code?: string, message: string, stack?: string }} ErrorInfo */

/**
 * What the page and the worker report of an error (plain data: it crosses postMessage).
 * @param {unknown} e
 * @returns {ErrorInfo}
 */
export function info(e) {
  if (e instanceof Error) {
    const code = /** @type {{ code?: unknown }} */ (e).code;
    return { name: e.name, code: typeof code === 'string' ? code : undefined, message: e.message, stack: e.stack };
  }
  return { name: typeof e, message: String(e) };
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
