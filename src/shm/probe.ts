/**
 * What this JavaScript runtime does right with shared memory, found by trying it, once per
 * thread, and never by its name or version: whether the thread may block (`Atomics.wait`),
 * whether a WebAssembly module's writes to a shared `WebAssembly.Memory` reach the memory as
 * another agent holds it (Bun reports a case where they do not: oven-sh/bun#25677), and whether
 * `Atomics.waitAsync` is there and parks a waiter that `Atomics.notify` finds (missing before
 * Firefox 145; denoland/deno#14786 and #15358 report waits that never end).
 *
 * Who asks: `regionAtomics` at every `create` and `attach` (so the probes run there, the first
 * time), which gives a region the WebAssembly atomics, and so the fast path, only where the
 * WebAssembly probe passed; `sleepOnAsync` (wait.ts), which waits with `Atomics.waitAsync` only
 * where its probe passed, and with a timer otherwise, or from the moment a native wait is found
 * to overrun its timeout. `runtimeSupport` tells an application what was found.
 */
import { AtomicOp, Op, assemble, compile, instantiate, word, type WasmFunc } from './wasm.js';

/** What pageframe found this runtime can do (see `runtimeSupport`). */
export interface RuntimeSupport {
  /**
   * `SharedArrayBuffer` exists. Without it nothing works: `FrameSystem.create` and `attach` throw
   * `FrameSystemError('BadMemory')`, whose message names the headers a browser page needs
   * (`Cross-Origin-Opener-Policy: same-origin`, `Cross-Origin-Embedder-Policy: require-corp`).
   */
  readonly sharedMemory: boolean;
  /** This thread may block in `Atomics.wait` (not a browser's main thread): blocking `send` and `receive` work here. */
  readonly blocking: boolean;
  /**
   * A region in a shared `WebAssembly.Memory` runs its atomics and its one-frame fast path as
   * WebAssembly: WebAssembly threads are there, and the probe's WebAssembly writes were seen
   * through a structured clone of the memory (what a worker receives) and the other way round.
   * Otherwise every region runs on JS `Atomics`, and `create` makes a `SharedArrayBuffer`.
   */
  readonly wasm: boolean;
  /**
   * How the waits that must not block the thread (`receiveAsync`, `sendAsync`, the async lock
   * waits) sleep: `'native'`, on `Atomics.waitAsync`; `'timer'`, by looking again every
   * millisecond, where `Atomics.waitAsync` is missing, failed its probe, or once overran its
   * timeout here. Both keep every wait's bound.
   */
  readonly waitAsync: 'native' | 'timer';
}

let canBlockCache: boolean | undefined;

/** Whether this thread may block in `Atomics.wait` (false on a browser's main thread). */
export function canBlock(): boolean {
  if (canBlockCache === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      canBlockCache = true;
    } catch {
      canBlockCache = false;
    }
  }
  return canBlockCache;
}

// --- WebAssembly writes to shared memory ---

/** The probe module: plain and atomic stores, `memory.fill`, plain loads, on absolute addresses. */
const PROBE_FUNCS: WasmFunc[] = [
  { name: 'store', params: 2, results: 0, body: [Op.localGet, 0, Op.localGet, 1, Op.i32Store, ...word()] },
  { name: 'atomicStore', params: 2, results: 0, body: [Op.localGet, 0, Op.localGet, 1, Op.atomic, AtomicOp.store, ...word()] },
  { name: 'fill', params: 3, results: 0, body: [Op.localGet, 0, Op.localGet, 1, Op.localGet, 2, Op.misc, 11, 0] },
  { name: 'load', params: 1, results: 1, body: [Op.localGet, 0, Op.i32Load, ...word()] },
  { name: 'atomicLoad', params: 1, results: 1, body: [Op.localGet, 0, Op.atomic, AtomicOp.load, ...word()] },
];

interface ProbeExports {
  store(at: number, value: number): void;
  atomicStore(at: number, value: number): void;
  fill(at: number, byte: number, length: number): void;
  load(at: number): number;
  atomicLoad(at: number): number;
}

let wasmCache: boolean | undefined;

/** The memory as another agent receives it (a structured clone shares the bytes), or `memory` itself where there is no `structuredClone`. */
function asReceived(memory: WebAssembly.Memory): WebAssembly.Memory | null {
  if (typeof structuredClone !== 'function') return memory;
  try {
    const copy: unknown = structuredClone(memory);
    return copy instanceof WebAssembly.Memory ? copy : null;
  } catch {
    return null;
  }
}

/**
 * The WebAssembly probe: on a new one-page shared memory, stores of every kind the library uses
 * (plain, atomic, `memory.fill`) made by one instance are read through a structured clone of the
 * memory, as JS and by a second instance on the clone, and the clone's writes (WebAssembly and
 * JS) are read back here. Values are drawn at random, so no stale byte can pass for a write.
 *
 * OWNER: every word written is the probe's own memory, made here and given to nobody.
 */
function probeWasm(): boolean {
  if (typeof WebAssembly === 'undefined' || typeof SharedArrayBuffer === 'undefined') return false;
  const module = compile(assemble([], PROBE_FUNCS));
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return false;
  }
  const there = asReceived(memory);
  if (there === null || !(memory.buffer instanceof SharedArrayBuffer) || !(there.buffer instanceof SharedArrayBuffer)) return false;
  const here = instantiate(module, memory, {}) as unknown as ProbeExports | null;
  const thereWasm = instantiate(module, there, {}) as unknown as ProbeExports | null;
  if (here === null || thereWasm === null) return false;
  const v = new Int32Array(4);
  globalThis.crypto.getRandomValues(v);
  const byte = (v[3] & 0x7f) | 1;
  const hereI32 = new Int32Array(memory.buffer);
  const thereI32 = new Int32Array(there.buffer);
  const thereU8 = new Uint8Array(there.buffer);
  here.store(0, v[0]);
  here.atomicStore(4, v[1]);
  here.fill(64, byte, 16);
  if (Atomics.load(thereI32, 0) !== v[0] || Atomics.load(thereI32, 1) !== v[1] || thereWasm.atomicLoad(0) !== v[0]) return false;
  for (let k = 64; k < 80; k++) if (thereU8[k] !== byte) return false;
  thereWasm.store(8, v[2]);
  Atomics.store(thereI32, 3, ~v[2]);
  return Atomics.load(hereI32, 2) === v[2] && here.load(8) === v[2] && here.atomicLoad(12) === ~v[2];
}

/** Whether WebAssembly's writes to a shared memory are seen by other agents here (the probe above; once per thread). */
export function wasmWritesShared(): boolean {
  return (wasmCache ??= probeWasm());
}

/**
 * Whether an instance on the region's own memory reads what JS reads there: the first `words`
 * words from `Int32Array` index 0 of `i32`, which the region's header keeps constant once made
 * (region/header.ts), read both ways. At `attach` they were written by another thread. `load`
 * is the instance's word load (`atomics.ts`, word indices).
 */
export function sameThroughWasm(load: (w: number) => number, i32: Int32Array, words: number): boolean {
  for (let w = 0; w < words && w < i32.length; w++) if (load(w) !== Atomics.load(i32, w)) return false;
  return true;
}

// --- Atomics.waitAsync ---

/** `Atomics.waitAsync` (ES2024; not yet in every TypeScript lib, nor in every runtime). */
export type WaitAsync = (a: Int32Array, i: number, v: number, t: number) => { async: boolean; value: Promise<string> | string };

let waitAsyncCache: WaitAsync | null | undefined;

/**
 * The `Atomics.waitAsync` probe: it must answer `not-equal` and `timed-out` at once where it
 * should, and park a waiter that `Atomics.notify` then counts (and so ends).
 */
function probeWaitAsync(): WaitAsync | null {
  const waitAsync = (Atomics as { waitAsync?: unknown }).waitAsync;
  if (typeof waitAsync !== 'function' || typeof SharedArrayBuffer === 'undefined') return null;
  const fn = waitAsync as WaitAsync;
  try {
    const i32 = new Int32Array(new SharedArrayBuffer(8));
    const differs = fn(i32, 0, 1, 0);
    const over = fn(i32, 0, 0, 0);
    if (differs.async || differs.value !== 'not-equal' || over.async || over.value !== 'timed-out') return null;
    const parked = fn(i32, 1, 0, 60_000);
    const woken = Atomics.notify(i32, 1, 1);
    if (!parked.async || typeof (parked.value as Promise<string>)?.then !== 'function' || woken !== 1) return null;
    return (x, i, v, t) => fn(x, i, v, t);
  } catch {
    return null;
  }
}

/** `Atomics.waitAsync` where it passed its probe and has not overrun a timeout since, else null (wait with a timer). */
export function nativeWaitAsync(): WaitAsync | null {
  if (waitAsyncCache === undefined) waitAsyncCache = probeWaitAsync();
  return waitAsyncCache;
}

/** Called by a wait whose `Atomics.waitAsync` did not end by its timeout (and a grace after): from now on this thread waits with a timer. */
export function waitAsyncOverran(): void {
  waitAsyncCache = null;
}

/**
 * What pageframe found this runtime can do, by trying each thing once in this thread (the same
 * answers every `create` and `attach` here acts on): shared memory at all, blocking waits, the
 * WebAssembly atomics and fast path, `Atomics.waitAsync`. See `RuntimeSupport` for each and
 * for what pageframe does without it; the README's "Runtimes" section says what each tested
 * runtime gives.
 *
 * @example
 * ```ts
 * import { runtimeSupport } from 'pageframe';
 *
 * const support = runtimeSupport();
 * console.log(support.sharedMemory, support.blocking); // true true (Node's main thread)
 * console.log(support.wasm, support.waitAsync); // true native (Node, Deno and Bun here)
 * ```
 */
export function runtimeSupport(): RuntimeSupport {
  return {
    sharedMemory: typeof SharedArrayBuffer !== 'undefined',
    blocking: typeof SharedArrayBuffer !== 'undefined' && canBlock(),
    wasm: wasmWritesShared(),
    waitAsync: typeof SharedArrayBuffer !== 'undefined' && nativeWaitAsync() !== null ? 'native' : 'timer',
  };
}
