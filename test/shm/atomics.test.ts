// The region's atomic primitives: the WebAssembly module and JS Atomics give the same answers and
// leave the same memory, on any word and at any region offset; which one a system gets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameSystem } from '../../src/index.js';
import { computeLayout } from '../../src/region/geometry.js';
import { jsAtomics, newWasmMemory, regionAtomics, type RegionAtomics } from '../../src/shm/atomics.js';

const WORDS = 64;

type Op =
  | { op: 'load'; w: number }
  | { op: 'store' | 'add' | 'sub'; w: number; v: number }
  | { op: 'cas'; w: number; expected: number; v: number }
  | { op: 'zero'; at: number; length: number }
  | { op: 'fill'; at: number; byte: number; length: number };

const word = fc.integer({ min: 0, max: WORDS - 1 });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('load' as const), w: word }),
  fc.record({ op: fc.constantFrom('store' as const, 'add' as const, 'sub' as const), w: word, v: int32 }),
  fc.record({ op: fc.constant('cas' as const), w: word, expected: fc.oneof(int32, fc.constantFrom(0, -1, 1)), v: int32 }),
  fc.integer({ min: 0, max: WORDS * 4 }).chain((at) =>
    fc.record({ op: fc.constant('zero' as const), at: fc.constant(at), length: fc.integer({ min: 0, max: WORDS * 4 - at }) }),
  ),
  fc.integer({ min: 0, max: WORDS * 4 }).chain((at) =>
    fc.record({ op: fc.constant('fill' as const), at: fc.constant(at), byte: fc.integer({ min: 0, max: 255 }), length: fc.integer({ min: 0, max: WORDS * 4 - at }) }),
  ),
);

function apply(a: RegionAtomics, o: Op): number | undefined {
  switch (o.op) {
    case 'load':
      return a.load(o.w);
    case 'store':
      a.store(o.w, o.v);
      return undefined;
    case 'add':
      return a.add(o.w, o.v);
    case 'sub':
      return a.sub(o.w, o.v);
    case 'cas':
      return a.cas(o.w, o.expected, o.v);
    case 'zero':
      a.zero(o.at, o.length);
      return undefined;
    case 'fill':
      a.fill(o.at, o.byte, o.length);
      return undefined;
  }
}

/** A region of WORDS words at byte `offset` of a new shared wasm memory, with its primitives. */
function wasmRegion(offset: number): { a: RegionAtomics; i32: Int32Array; whole: Uint8Array } {
  const memory = newWasmMemory(offset + WORDS * 4);
  if (memory === null) throw new Error('WebAssembly threads are unavailable here');
  const buffer = memory.buffer as unknown as SharedArrayBuffer;
  const i32 = new Int32Array(buffer, offset, WORDS);
  const a = regionAtomics(memory, offset, i32, new Uint8Array(buffer, offset, WORDS * 4));
  return { a, i32, whole: new Uint8Array(buffer) };
}

describe('region atomics', () => {
  it('fill: JS (from a private block, refilled when the byte changes) and WebAssembly leave the same bytes, past 64 KiB too', () => {
    const BYTES = 200 * 1024;
    const memory = newWasmMemory(BYTES);
    if (memory === null) throw new Error('WebAssembly threads are unavailable here');
    const wasmU8 = new Uint8Array(memory.buffer as unknown as SharedArrayBuffer, 0, BYTES);
    const wasm = regionAtomics(memory, 0, new Int32Array(memory.buffer as unknown as SharedArrayBuffer, 0, BYTES / 4), wasmU8);
    const sab = new SharedArrayBuffer(BYTES);
    const jsU8 = new Uint8Array(sab);
    const js = jsAtomics(new Int32Array(sab), jsU8);
    for (const [at, byte, length] of [[0, 7, BYTES], [100, 9, 70_000], [65_536 + 3, 9, 65_536], [5, 0, 300], [1000, 255, 255], [4096, 1, 4096]]) {
      wasm.fill(at, byte, length);
      js.fill(at, byte, length);
      expect(jsU8[at]).toBe(byte);
      expect(jsU8[at + length - 1]).toBe(byte);
      expect(Buffer.compare(Buffer.from(wasmU8), Buffer.from(jsU8))).toBe(0);
    }
  });


  it('the WebAssembly primitives and JS Atomics agree on every answer and on memory', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 64, 4096, 65536 + 128), fc.array(int32, { minLength: WORDS, maxLength: WORDS }), fc.array(opArb, { maxLength: 60 }), (offset, init, ops) => {
        const wasm = wasmRegion(offset);
        expect(wasm.a.kind).toBe('wasm');
        const sab = new SharedArrayBuffer(WORDS * 4);
        const jsI32 = new Int32Array(sab);
        const js = jsAtomics(jsI32, new Uint8Array(sab));
        wasm.i32.set(init);
        jsI32.set(init);
        for (const o of ops) expect(apply(wasm.a, o), JSON.stringify(o)).toBe(apply(js, o));
        expect(Array.from(wasm.i32)).toEqual(Array.from(jsI32));
        // Nothing outside the region was touched.
        expect(wasm.whole.subarray(0, offset).every((b) => b === 0)).toBe(true);
        expect(wasm.whole.subarray(offset + WORDS * 4).every((b) => b === 0)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('wraps like Int32Array atomics and answers the old value', () => {
    const { a, i32 } = wasmRegion(0);
    i32[3] = 2 ** 31 - 1;
    expect(a.add(3, 1)).toBe(2 ** 31 - 1);
    expect(i32[3]).toBe(-(2 ** 31));
    expect(a.cas(3, 0, 5)).toBe(-(2 ** 31)); // no match: unchanged
    expect(a.cas(3, -(2 ** 31), -1)).toBe(-(2 ** 31));
    expect(a.load(3)).toBe(-1);
    expect(a.sub(3, 1)).toBe(-1);
    expect(i32[3]).toBe(-2);
  });

  it('a system on a WebAssembly.Memory uses the module; on a SharedArrayBuffer, JS Atomics', () => {
    const made = FrameSystem.create({ frames: 8 });
    expect(made.handle.memory).toBeInstanceOf(WebAssembly.Memory);
    expect(made._region.at.kind).toBe('wasm');
    const onSab = FrameSystem.create({ frames: 8, memory: new SharedArrayBuffer(computeLayout(8, 0).totalBytes) });
    expect(onSab._region.at.kind).toBe('js');
    const mem = new WebAssembly.Memory({ initial: 4, maximum: 64, shared: true });
    const onWasm = FrameSystem.create({ frames: 8, memory: mem, offset: 65536 });
    expect(onWasm._region.at.kind).toBe('wasm');
    // A worker attaching to either gets the same kind (the handle carries the memory).
    expect(FrameSystem.attach(made.handle, { separate: true })._region.at.kind).toBe('wasm');
    expect(FrameSystem.attach(onSab.handle, { separate: true })._region.at.kind).toBe('js');
    // Frames zeroed through memory.fill, at the region's offset.
    const f = onWasm.allocFrame();
    f.fill(7);
    f.drop();
    const g = onWasm.allocFrame();
    expect(g.bytes().every((b) => b === 0)).toBe(true);
    g.drop();
    for (const sys of [made, onSab, onWasm]) sys.checkInvariants();
  });

  it('makes no wasm memory past wasm32\u2019s 4 GiB (the caller then uses a SharedArrayBuffer)', () => {
    expect(newWasmMemory(2 ** 32 + 1)).toBeNull();
    expect(newWasmMemory(65536)).toBeInstanceOf(WebAssembly.Memory);
  });
});
