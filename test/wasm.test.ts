/**
 * Frames backed by a shared `WebAssembly.Memory`: a small WebAssembly module, assembled byte by
 * byte below, imports the same memory and reads and writes frames in place. JavaScript sees its
 * writes through `bytes()` / readers, and the module sees JavaScript's. The region starts at an
 * offset that keeps the module's own data below it, and pageframe never writes there.
 */
import { describe, expect, it } from 'vitest';
import {
  Frame,
  FrameSystem,
  FrameSystemError,
  LinkedList,
  FrameAllocOptions,
  PAGE_SIZE,
  defineMeta,
} from '../src/index.js';
import { uleb } from '../src/shm/wasm.js';

/** WebAssembly pages are 64 KiB. */
const WASM_PAGE = 65536;
/** The module's limits (in wasm pages), which the imported memory must match. */
const INITIAL = 2;
const MAXIMUM = 64;
/** Where the module's own data segment lives (below the region's offset). */
const DATA_AT = 16;
const DATA = 'pageframe-wasm-data';

// --- A tiny WebAssembly assembler: just the encodings this module needs (LEB128 from the
// library's own assembler; this module has a data segment and a memory layout of its own). ---

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

const I32 = 0x7f;
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (d: number) => [0x0c, d],
  brIf: (d: number) => [0x0d, d],
  get: (i: number) => [0x20, i],
  set: (i: number) => [0x21, i],
  i32Const1: [0x41, 0x01],
  i32Eqz: [0x45],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Load: [0x28, 0x02, 0x00], // align 2^2, offset 0
  i32Load8U: [0x2d, 0x00, 0x00],
  i32Store: [0x36, 0x02, 0x00],
  i32Store8: [0x3a, 0x00, 0x00],
  i32AtomicRmwAdd: [0xfe, 0x1e, 0x02, 0x00],
};

/** A function body: locals (count of i32 locals) and code. */
function body(i32Locals: number, code: number[][]): number[] {
  const locals = i32Locals === 0 ? [0x00] : [0x01, ...uleb(i32Locals), I32];
  const b = [...locals, ...code.flat(), ...op.end];
  return [...uleb(b.length), ...b];
}

/** `while (len != 0) { ...step; addr++; len-- }` over params addr = 0, len = 1. */
function byteLoop(step: number[][]): number[][] {
  return [
    op.block,
    op.loop,
    op.get(1),
    op.i32Eqz,
    op.brIf(1),
    ...step,
    op.get(0),
    op.i32Const1,
    op.i32Add,
    op.set(0),
    op.get(1),
    op.i32Const1,
    op.i32Sub,
    op.set(1),
    op.br(0),
    op.end,
    op.end,
  ];
}

/**
 * The module: imports a shared memory "env" "mem" (limits flag 0x03: shared, with a maximum),
 * writes `DATA` at `DATA_AT` (an active data segment), and exports
 *   fill(addr, len, byte)        byte by byte, with i32.store8
 *   sum(addr, len) -> i32        the sum of the bytes, with i32.load8_u
 *   load32(addr) -> i32          i32.load (little-endian)
 *   store32(addr, v)             i32.store
 *   atomicAdd(addr, v) -> i32    i32.atomic.rmw.add, returning the old value
 */
function moduleBytes(): Uint8Array<ArrayBuffer> {
  const types = vec([
    [0x60, ...vec([[I32], [I32], [I32]]), 0x00], // 0: (i32 i32 i32) -> ()
    [0x60, ...vec([[I32], [I32]]), ...vec([[I32]])], // 1: (i32 i32) -> i32
    [0x60, ...vec([[I32]]), ...vec([[I32]])], // 2: (i32) -> i32
    [0x60, ...vec([[I32], [I32]]), 0x00], // 3: (i32 i32) -> ()
  ]);
  const imports = vec([[...name('env'), ...name('mem'), 0x02, 0x03, ...uleb(INITIAL), ...uleb(MAXIMUM)]]);
  const functions = vec([[0], [1], [2], [3], [1]]);
  const exports = vec([
    [...name('fill'), 0x00, 0],
    [...name('sum'), 0x00, 1],
    [...name('load32'), 0x00, 2],
    [...name('store32'), 0x00, 3],
    [...name('atomicAdd'), 0x00, 4],
  ]);
  const code = vec([
    body(0, byteLoop([op.get(0), op.get(2), op.i32Store8])),
    body(1, [...byteLoop([op.get(2), op.get(0), op.i32Load8U, op.i32Add, op.set(2)]), op.get(2)]),
    body(0, [op.get(0), op.i32Load]),
    body(0, [op.get(0), op.get(1), op.i32Store]),
    body(0, [op.get(0), op.get(1), op.i32AtomicRmwAdd]),
  ]);
  const data = vec([[0x00, 0x41, ...uleb(DATA_AT), ...op.end, ...name(DATA)]]); // DATA_AT < 64: one-byte sleb
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, functions),
    ...section(7, exports),
    ...section(10, code),
    ...section(11, data),
  ]);
}

interface Exports {
  fill(addr: number, len: number, byte: number): void;
  sum(addr: number, len: number): number;
  load32(addr: number): number;
  store32(addr: number, v: number): void;
  atomicAdd(addr: number, v: number): number;
}

const compiled = new WebAssembly.Module(moduleBytes());

function instantiate(memory: WebAssembly.Memory): Exports {
  return new WebAssembly.Instance(compiled, { env: { mem: memory } }).exports as unknown as Exports;
}

/** A shared memory, the module on it, and a region at `offset` (one wasm page by default). */
function setup(frames = 16, offset = WASM_PAGE): { memory: WebAssembly.Memory; wasm: Exports; sys: FrameSystem } {
  const memory = new WebAssembly.Memory({ initial: INITIAL, maximum: MAXIMUM, shared: true });
  const wasm = instantiate(memory);
  const sys = FrameSystem.create({ frames, memory, offset });
  return { memory, wasm, sys };
}

/** The absolute byte address of a frame in the memory, as the module addresses it. */
function addressOf(frame: { bytes(): Uint8Array }): number {
  return frame.bytes().byteOffset;
}

describe('a shared WebAssembly.Memory as physical memory', () => {
  it('the hand-assembled module validates, and imports a shared memory', () => {
    const bytes = moduleBytes();
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(WebAssembly.Module.imports(compiled)).toEqual([{ module: 'env', name: 'mem', kind: 'memory' }]);
    expect(WebAssembly.Module.exports(compiled).map((e) => e.name)).toEqual(['fill', 'sum', 'load32', 'store32', 'atomicAdd']);
    // An unshared memory does not satisfy the import.
    expect(() => instantiate(new WebAssembly.Memory({ initial: INITIAL, maximum: MAXIMUM }))).toThrow(WebAssembly.LinkError);
  });

  it('frames live at offset + frame region + paddr of the buffer, page-aligned', () => {
    const { memory, sys } = setup();
    expect(sys.handle.memory).toBe(memory);
    expect(sys.handle.offset).toBe(WASM_PAGE);
    const a = sys.allocFrame();
    const s = sys.allocSegment(3);
    const frame0 = addressOf(a) - a.paddr; // the byte address of paddr 0
    expect(addressOf(s) - s.startPaddr).toBe(frame0);
    expect(frame0).toBe(sys.handle.offset + sys._region.frameByte);
    expect(frame0 % PAGE_SIZE).toBe(0);
    expect(frame0).toBeGreaterThan(sys.handle.offset); // header and slots come first
    expect(a.bytes().buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(frame0 + sys.maxPaddr).toBeLessThanOrEqual(memory.buffer.byteLength);
    a.drop();
    s.drop();
  });

  it('the module writes a frame in place; JavaScript sees it through bytes() and readers', () => {
    const { wasm, sys } = setup();
    const s = sys.allocSegment(3);
    const [before, rest] = s.split(PAGE_SIZE);
    const [mid, after] = rest.split(PAGE_SIZE);
    const [f] = [...mid];
    const at = addressOf(f);
    wasm.fill(at, PAGE_SIZE, 0x5a);
    expect(f.bytes().every((b) => b === 0x5a)).toBe(true);
    expect(f.reader().readU32()).toBe(0x5a5a5a5a);
    // Neighbours untouched.
    expect(before.bytes().every((b) => b === 0)).toBe(true);
    expect(after.bytes().every((b) => b === 0)).toBe(true);
    // i32.store is little-endian, as the readers.
    wasm.store32(at + 8, 0x12345678);
    expect(f.reader().skip(8).readU32()).toBe(0x12345678);
    expect([...f.bytes().subarray(8, 12)]).toEqual([0x78, 0x56, 0x34, 0x12]);
    wasm.fill(at + PAGE_SIZE - 3, 3, 0x01);
    expect(f.reader().skip(PAGE_SIZE - 4).read(4)).toEqual(Uint8Array.of(0x5a, 1, 1, 1));
    for (const h of [before, f, after]) h.drop();
    expect(sys.stats().free).toBe(16);
  });

  it("the module sees JavaScript's writes (fill, writer, bytes())", () => {
    const { wasm, sys } = setup();
    const f = sys.allocFrame();
    const at = addressOf(f);
    expect(wasm.sum(at, PAGE_SIZE)).toBe(0); // zeroed
    f.fill(3);
    expect(wasm.sum(at, PAGE_SIZE)).toBe(3 * PAGE_SIZE);
    f.writer().writeU32(0xdeadbeef).writeI32(-5).writeU16(0xffff);
    expect(wasm.load32(at) >>> 0).toBe(0xdeadbeef);
    expect(wasm.load32(at + 4)).toBe(-5);
    expect(wasm.sum(at + 8, 2)).toBe(0x1fe);
    f.bytes()[100] = 200;
    expect(wasm.sum(at + 100, 1)).toBe(200);
    f.drop();
    // A frame given back and allocated again (zeroed) reads zero to the module too.
    const g = sys.allocFrame();
    expect(addressOf(g)).toBe(at); // LIFO reuse
    expect(wasm.sum(at, PAGE_SIZE)).toBe(0);
    g.drop();
  });

  it('atomics agree: the module’s i32.atomic.rmw.add and JavaScript Atomics on frame bytes', () => {
    const { wasm, sys } = setup();
    const f = sys.allocFrame();
    const b = f.bytes();
    const words = new Int32Array(b.buffer, b.byteOffset, PAGE_SIZE / 4);
    Atomics.add(words, 0, 5);
    expect(wasm.atomicAdd(b.byteOffset, 7)).toBe(5);
    expect(Atomics.load(words, 0)).toBe(12);
    expect(f.reader().readU32()).toBe(12);
    f.drop();
  });

  it('segments: the module fills and sums a whole contiguous segment', () => {
    const { wasm, sys } = setup();
    const s = sys.allocSegment(5);
    const at = addressOf(s);
    wasm.fill(at, 5 * PAGE_SIZE, 0x11);
    expect(s.bytes().every((b) => b === 0x11)).toBe(true);
    const r = s.reader().skip(4 * PAGE_SIZE + 10);
    expect(r.readU8()).toBe(0x11);
    s.writer().skip(2 * PAGE_SIZE).fill(0x02);
    expect(wasm.sum(at, 5 * PAGE_SIZE)).toBe(2 * PAGE_SIZE * 0x11 + 3 * PAGE_SIZE * 0x02);
    s.drop();
    expect(sys.stats().free).toBe(16);
  });

  it('another view attached from the handle sees the module’s writes', () => {
    const { wasm, sys } = setup();
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const f = sys.allocFrame();
    const g = Frame.fromInUse(other, f.paddr);
    expect(g.bytes().byteOffset).toBe(f.bytes().byteOffset);
    wasm.fill(addressOf(f), 16, 0x42);
    expect(g.reader().read(16)).toEqual(new Uint8Array(16).fill(0x42));
    g.drop();
    f.drop();
    other.close();
    sys.checkInvariants();
  });

  it('memory below the offset is untouched by pageframe (the module’s data and heap), and the memory grew', () => {
    const memory = new WebAssembly.Memory({ initial: INITIAL, maximum: MAXIMUM, shared: true });
    const wasm = instantiate(memory);
    const offset = WASM_PAGE;
    // The module's data segment, then a pattern over the rest of what lies below the offset.
    const low = new Uint8Array(memory.buffer, 0, offset);
    expect(new TextDecoder().decode(low.slice(DATA_AT, DATA_AT + DATA.length))).toBe(DATA);
    for (let i = DATA_AT + DATA.length; i < offset; i++) low[i] = (i * 31 + 7) & 0xff;
    const saved = low.slice();
    const frames = 64;
    const sys = FrameSystem.create({ frames, memory, offset });
    // The region did not fit in INITIAL pages: create grew the memory.
    expect(memory.buffer.byteLength).toBeGreaterThan(INITIAL * WASM_PAGE);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(offset + sys._region.frameByte + frames * PAGE_SIZE);

    // Work everywhere in the region: every frame allocated and written, metadata, a list,
    // another worker view, drops, the module writing frames.
    const Meta = defineMeta('test.wasm.meta', { v: 'u32' }, { untyped: true });
    const all: Frame<typeof Meta>[] = [];
    for (let k = 0; k < frames / 2; k++) all.push(sys.allocFrame(Meta, { v: k }));
    const seg = sys.allocSegment(frames / 4);
    const list = LinkedList.create(sys, Meta);
    for (let k = 0; k < frames / 4; k++) list.pushBack(new FrameAllocOptions(sys).allocUnique(Meta, { v: 1000 + k }));
    for (const f of all) f.fill(0xff);
    wasm.fill(addressOf(seg), seg.size, 0xee);
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const peek = Frame.fromInUse(other, all[3].paddr);
    expect(peek.bytes()[0]).toBe(0xff);
    peek.drop();
    other.close();
    list.destroy();
    seg.drop();
    for (const f of all) f.drop();
    sys.checkInvariants();
    expect(sys.stats().free).toBe(frames);
    sys.close();

    const now = new Uint8Array(memory.buffer, 0, offset);
    const diff = now.findIndex((b, i) => b !== saved[i]);
    expect(diff, 'first byte below the offset that changed').toBe(-1);
    expect(wasm.sum(DATA_AT, DATA.length)).toBe([...new TextEncoder().encode(DATA)].reduce((a, b) => a + b, 0));
  });

  it('refuses an unshared memory, and one that cannot grow to the size the region needs', () => {
    const unshared = new WebAssembly.Memory({ initial: 8, maximum: 8 });
    expect(() => FrameSystem.create({ frames: 4, memory: unshared })).toThrow(FrameSystemError);
    const small = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
    let caught: unknown;
    try {
      FrameSystem.create({ frames: 64, memory: small, offset: WASM_PAGE });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FrameSystemError);
    expect((caught as FrameSystemError).code).toBe('BadMemory');
    expect(small.buffer.byteLength).toBeLessThanOrEqual(2 * WASM_PAGE);
  });
});
