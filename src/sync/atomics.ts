/**
 * The region's atomic primitives on the hot paths (load, store, add, sub, compare-exchange of a
 * 32-bit word) and bulk zeroing. On a shared `WebAssembly.Memory` they are the exports of a tiny
 * WebAssembly module built here (wasm atomics compile to single instructions, about twice as
 * fast as a call of a JS `Atomics` builtin, and `memory.fill` zeroes a page three times faster
 * than the fastest typed-array way); on a plain `SharedArrayBuffer` they are JS `Atomics`.
 * Both are sequentially consistent and interoperate on the same memory, so the rest of the code
 * may use either on any word.
 *
 * Words are addressed as in `MemoryViews.i32`: index `w` is the region's byte `4 * w`.
 */

/** The atomic primitives of one region. */
export interface RegionAtomics {
  /** Which implementation this is. */
  readonly kind: 'wasm' | 'js';
  load(w: number): number;
  store(w: number, value: number): void;
  /** Adds `value`; returns the old value. */
  add(w: number, value: number): number;
  /** Subtracts `value`; returns the old value. */
  sub(w: number, value: number): number;
  /** Stores `value` if the word is `expected`; returns the old value. */
  cas(w: number, expected: number, value: number): number;
  /** Sets `length` bytes from region byte `at` to zero (not atomic: plain stores). */
  zero(at: number, length: number): void;
}

/** 64 KiB of zeros: `set` from a zero block is ~7x faster than `fill(0)` on shared memory. */
const ZERO_BLOCK = new Uint8Array(64 * 1024);

/** JS `Atomics` on the region's `i32` view, and zeroing by `set` from a zero page. */
export function jsAtomics(i32: Int32Array, u8: Uint8Array): RegionAtomics {
  return {
    kind: 'js',
    load: (w) => Atomics.load(i32, w),
    store: (w, value) => {
      Atomics.store(i32, w, value);
    },
    add: (w, value) => Atomics.add(i32, w, value),
    sub: (w, value) => Atomics.sub(i32, w, value),
    cas: (w, expected, value) => Atomics.compareExchange(i32, w, expected, value),
    zero: (at, length) => {
      const end = at + length;
      while (end - at >= ZERO_BLOCK.length) {
        u8.set(ZERO_BLOCK, at);
        at += ZERO_BLOCK.length;
      }
      if (at < end) u8.set(ZERO_BLOCK.subarray(0, end - at), at);
    },
  };
}

// --- The WebAssembly module, assembled from its bytes (no toolchain, no file to fetch). ---

const I32 = 0x7f;
const FUNC = 0x60;
const LOCAL_GET = 0x20;
const GLOBAL_GET = 0x23;
const I32_CONST = 0x41;
const I32_ADD = 0x6a;
const I32_SHL = 0x74;
const ATOMIC = 0xfe;
const MISC = 0xfc;
const END = 0x0b;
/** The memarg of an aligned 32-bit access: align 2^2, offset 0. */
const WORD = [2, 0];
/** Region byte address of word `local 0`: (w << 2) + base. */
const WORD_ADDR = [LOCAL_GET, 0, I32_CONST, 2, I32_SHL, GLOBAL_GET, 0, I32_ADD];

/** The exported functions: name, parameter count, result count, body (without locals and end). */
const FUNCS: [string, number, number, number[]][] = [
  ['load', 1, 1, [...WORD_ADDR, ATOMIC, 0x10, ...WORD]], // i32.atomic.load
  ['store', 2, 0, [...WORD_ADDR, LOCAL_GET, 1, ATOMIC, 0x17, ...WORD]], // i32.atomic.store
  ['add', 2, 1, [...WORD_ADDR, LOCAL_GET, 1, ATOMIC, 0x1e, ...WORD]], // i32.atomic.rmw.add
  ['sub', 2, 1, [...WORD_ADDR, LOCAL_GET, 1, ATOMIC, 0x25, ...WORD]], // i32.atomic.rmw.sub
  ['cas', 3, 1, [...WORD_ADDR, LOCAL_GET, 1, LOCAL_GET, 2, ATOMIC, 0x48, ...WORD]], // i32.atomic.rmw.cmpxchg
  // memory.fill(base + at, 0, length)
  ['zero', 2, 0, [LOCAL_GET, 0, GLOBAL_GET, 0, I32_ADD, I32_CONST, 0, LOCAL_GET, 1, MISC, 11, 0]],
];

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function name(s: string): number[] {
  return [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

function section(id: number, items: number[][]): number[] {
  const body = [...leb(items.length), ...items.flat()];
  return [id, ...leb(body.length), ...body];
}

/** The module's bytes: imports memory `m.m` (shared, up to 4 GiB) and the base `m.b` (an i32). */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const types = FUNCS.map(([, params, results]) => [FUNC, params, ...Array<number>(params).fill(I32), results, ...Array<number>(results).fill(I32)]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, types),
    ...section(2, [
      [...name('m'), ...name('m'), 0x02, 0x03, ...leb(0), ...leb(65536)], // shared memory, min 0, max 65536 pages
      [...name('m'), ...name('b'), 0x03, I32, 0x00], // immutable i32 global
    ]),
    ...section(3, FUNCS.map((_, i) => [i])),
    ...section(7, FUNCS.map(([fn], i) => [...name(fn), 0x00, i])),
    ...section(10, FUNCS.map(([, , , body]) => {
      const code = [0x00, ...body, END]; // no locals
      return [...leb(code.length), ...code];
    })),
  ];
  return new Uint8Array(bytes);
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly (or its threads feature) is unavailable. */
function wasmModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = typeof WebAssembly === 'undefined' ? null : new WebAssembly.Module(moduleBytes());
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

interface WasmExports {
  load(w: number): number;
  store(w: number, value: number): void;
  add(w: number, value: number): number;
  sub(w: number, value: number): number;
  cas(w: number, expected: number, value: number): number;
  zero(at: number, length: number): void;
}

/**
 * The primitives of a region that starts at byte `offset` of `memory`: the wasm module's when
 * `memory` is a shared `WebAssembly.Memory` and the module can be instantiated, JS `Atomics`
 * otherwise.
 */
export function regionAtomics(memory: unknown, offset: number, i32: Int32Array, u8: Uint8Array): RegionAtomics {
  const module = typeof WebAssembly !== 'undefined' && memory instanceof WebAssembly.Memory ? wasmModule() : null;
  if (module !== null) {
    try {
      const instance = new WebAssembly.Instance(module, { m: { m: memory as WebAssembly.Memory, b: offset | 0 } });
      const ex = instance.exports as unknown as WasmExports;
      return { kind: 'wasm', load: ex.load, store: ex.store, add: ex.add, sub: ex.sub, cas: ex.cas, zero: ex.zero };
    } catch {
      // A memory the module cannot import (e.g. not shared): the JS primitives work on any.
    }
  }
  return jsAtomics(i32, u8);
}

/**
 * A new shared `WebAssembly.Memory` of at least `bytes` bytes (its maximum is its size), or null
 * where WebAssembly threads are unavailable or `bytes` is past wasm32's 4 GiB.
 */
export function newWasmMemory(bytes: number): WebAssembly.Memory | null {
  const pages = Math.ceil(bytes / 65536);
  if (pages > 65536 || wasmModule() === null) return null;
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return null;
  }
}
