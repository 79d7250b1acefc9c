/**
 * The region's atomic primitives on the hot paths (load, store, add, sub, compare-exchange of a
 * 32-bit word) and bulk zeroing and filling. On a shared `WebAssembly.Memory` they are the exports of a tiny
 * WebAssembly module built here (wasm atomics compile to single instructions, about twice as
 * fast as a call of a JS `Atomics` builtin, and `memory.fill` zeroes a page three times faster
 * than the fastest typed-array way); on a plain `SharedArrayBuffer` they are JS `Atomics`.
 * Both are sequentially consistent and interoperate on the same memory, so the rest of the code
 * may use either on any word.
 *
 * Words are addressed as in `MemoryViews.i32`: index `w` is the region's byte `4 * w`.
 */
import { sameThroughWasm, wasmWritesShared } from './probe.js';
import { AtomicOp, Op, assemble, compile, constI32, instantiate, word, type WasmFunc } from './wasm.js';
import type { WasmMemory } from './views.js';

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
  /** Sets `length` bytes from region byte `at` to `byte` (0..255; plain stores, as `zero`). */
  fill(at: number, byte: number, length: number): void;
}

/** 64 KiB of zeros: `set` from a zero block is ~7x faster than `fill(0)` on shared memory. */
const ZERO_BLOCK = new Uint8Array(64 * 1024);
/** 64 KiB of one byte value (`fillByte`), private: `TypedArray.prototype.fill` on shared memory
 *  is ~16x slower than on private memory in V8, `set` from private memory ~2x. */
const FILL_BLOCK = new Uint8Array(64 * 1024);
let fillByte = 0;

/** Copies `block` (refilled by the caller) over `length` bytes of `u8` from `at`. */
function setFrom(u8: Uint8Array, block: Uint8Array, at: number, length: number): void {
  const end = at + length;
  while (end - at >= block.length) {
    u8.set(block, at);
    at += block.length;
  }
  if (at < end) u8.set(block.subarray(0, end - at), at);
}

/**
 * JS `Atomics` on the region's `i32` view, and zeroing by `set` from a zero page.
 * ORDER: each primitive is the sequentially consistent `Atomics` call of its name; `zero` is plain
 * stores, for bytes its caller owns.
 */
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
    zero: (at, length) => setFrom(u8, ZERO_BLOCK, at, length),
    fill: (at, byte, length) => {
      if (byte === 0) return setFrom(u8, ZERO_BLOCK, at, length);
      if (length < 256) return void u8.fill(byte, at, at + length); // not worth the block
      if (fillByte !== byte) FILL_BLOCK.fill((fillByte = byte));
      setFrom(u8, FILL_BLOCK, at, length);
    },
  };
}

// --- The WebAssembly module (see `wasm.ts`). ---

/** Region byte address of word `local 0`: (w << 2) + base. */
const WORD_ADDR = [Op.localGet, 0, ...constI32(2), Op.i32Shl, Op.globalGet, 0, Op.i32Add];

const FUNCS: WasmFunc[] = [
  { name: 'load', params: 1, results: 1, body: [...WORD_ADDR, Op.atomic, AtomicOp.load, ...word()] },
  { name: 'store', params: 2, results: 0, body: [...WORD_ADDR, Op.localGet, 1, Op.atomic, AtomicOp.store, ...word()] },
  { name: 'add', params: 2, results: 1, body: [...WORD_ADDR, Op.localGet, 1, Op.atomic, AtomicOp.add, ...word()] },
  { name: 'sub', params: 2, results: 1, body: [...WORD_ADDR, Op.localGet, 1, Op.atomic, AtomicOp.sub, ...word()] },
  { name: 'cas', params: 3, results: 1, body: [...WORD_ADDR, Op.localGet, 1, Op.localGet, 2, Op.atomic, AtomicOp.cmpxchg, ...word()] },
  // memory.fill(base + at, 0, length)
  { name: 'zero', params: 2, results: 0, body: [Op.localGet, 0, Op.globalGet, 0, Op.i32Add, ...constI32(0), Op.localGet, 1, Op.misc, 11, 0] },
  // memory.fill(base + at, byte, length)
  { name: 'fill', params: 3, results: 0, body: [Op.localGet, 0, Op.globalGet, 0, Op.i32Add, Op.localGet, 1, Op.localGet, 2, Op.misc, 11, 0] },
];

/** The module's exports: the primitives, without `kind`. */
type WasmExports = Omit<RegionAtomics, 'kind'>;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly (or its threads feature) is unavailable. */
function wasmModule(): WebAssembly.Module | null {
  return (compiled ??= compile(assemble(['b'], FUNCS)));
}

/** Words at the start of a region that an instance must read as JS does (`sameThroughWasm`). */
const SAME_WORDS = 8;

/**
 * The primitives of a region that starts at byte `offset` of `memory`: the wasm module's when
 * `memory` is a shared `WebAssembly.Memory` and the module can be instantiated, JS `Atomics`
 * otherwise. Also JS `Atomics` where this runtime failed the WebAssembly probe (probe.ts), or
 * where the instance does not read the region's first words as JS does.
 */
export function regionAtomics(memory: unknown, offset: number, i32: Int32Array, u8: Uint8Array): RegionAtomics {
  const memoryOk = typeof WebAssembly !== 'undefined' && memory instanceof WebAssembly.Memory && wasmWritesShared();
  // A memory the module cannot import (e.g. not shared) gets the JS primitives, which work on any.
  const ex = memoryOk ? (instantiate(wasmModule(), memory, { b: offset }) as unknown as WasmExports | null) : null;
  if (ex === null || !sameThroughWasm(ex.load, i32, SAME_WORDS)) return jsAtomics(i32, u8);
  return { kind: 'wasm', load: ex.load, store: ex.store, add: ex.add, sub: ex.sub, cas: ex.cas, zero: ex.zero, fill: ex.fill };
}

/**
 * A new shared `WebAssembly.Memory` of at least `bytes` bytes that may grow to `maxBytes`
 * (default: its size), or null where WebAssembly threads are unavailable, failed the probe
 * (probe.ts), or `maxBytes` is past
 * wasm32's 4 GiB.
 */
export function newWasmMemory(bytes: number, maxBytes = bytes): WasmMemory | null {
  const pages = Math.ceil(bytes / 65536);
  const maximum = Math.ceil(maxBytes / 65536);
  if (maximum > 65536 || wasmModule() === null || !wasmWritesShared()) return null;
  try {
    return new WebAssembly.Memory({ initial: pages, maximum, shared: true });
  } catch {
    return null;
  }
}
