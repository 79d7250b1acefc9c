/**
 * Byte access to untyped frames, as the kernel's `untyped` module and its `VmReader` /
 * `VmWriter`: `bytes()` (a zero-copy view), `reader()` / `writer()` (bounds-checked cursors with
 * little-endian numbers) and `fill(byte)`, on `Frame`, `UniqueFrame`, `FrameRef` (reader only,
 * also the one `onDrop` gets) and `Segment` (its whole contiguous range). Typed frames refuse all
 * of it: at compile time (`@ts-expect-error` below) and, reached through `AnyMeta`, at run time.
 * `zeroed(true)` allocations are all zero even when the memory was dirty before.
 */
import { describe, expect, it } from 'vitest';
import {
  AllocError,
  Frame,
  FrameAllocOptions,
  FrameReader,
  FrameSystem,
  FrameUseError,
  FrameWriter,
  PAGE_SIZE,
  Segment,
  UniqueFrame,
  Untyped,
  defineMeta,
  type AnyMeta,
  type Paddr,
} from '../../src/index.js';
import { expectThrown, makeSystem, MockMeta, MockUMeta } from '../helpers.js';

/** Expects `fn` to throw a FrameUseError (with `code`), returns it. */
const expectUseError = (fn: () => unknown, code?: string): FrameUseError => expectThrown(fn, FrameUseError, code);

/** The bytes of `n` frames from `paddr`, read straight from the region (for typed frames too). */
function rawBytes(sys: FrameSystem, paddr: Paddr, n = 1): Uint8Array {
  return sys._region.mem.u8.subarray(sys._region.frameByte + paddr, sys._region.frameByte + paddr + n * PAGE_SIZE);
}

/** Byte access of an untyped handle of any kind, as plain closures (a union of the handle
 *  classes cannot be called through their `this`-typed methods). */
interface ByteHandle {
  bytes(): Uint8Array;
  reader(): FrameReader;
  writer(): FrameWriter;
  fill(byte: number): void;
  drop(): void;
}

function io(h: Frame<Untyped> | UniqueFrame<typeof MockUMeta> | Segment<Untyped>): ByteHandle {
  if (h instanceof Segment) {
    return { bytes: () => h.bytes(), reader: () => h.reader(), writer: () => h.writer(), fill: (b) => h.fill(b), drop: () => h.drop() };
  }
  if (h instanceof UniqueFrame) {
    return { bytes: () => h.bytes(), reader: () => h.reader(), writer: () => h.writer(), fill: (b) => h.fill(b), drop: () => h.drop() };
  }
  return { bytes: () => h.bytes(), reader: () => h.reader(), writer: () => h.writer(), fill: (b) => h.fill(b), drop: () => h.drop() };
}

/** Index of the first byte of `b` that is not `v`, or -1. */
function firstNot(b: Uint8Array, v: number): number {
  return b.findIndex((x) => x !== v);
}

describe('kernel tests (ostd/src/mm/frame/test.rs, mod untyped)', () => {
  it('untyped_frame_reader_writer (test 22): remain/avail PAGE_SIZE; 128 x 0xAA written and read back', () => {
    const sys = makeSystem();
    for (const frame of [new FrameAllocOptions(sys).allocFrame(), sys.allocFrame(MockUMeta, { value: 1 })]) {
      const reader = frame.reader();
      const writer = frame.writer();
      expect(reader).toBeInstanceOf(FrameReader);
      expect(writer).toBeInstanceOf(FrameWriter);
      expect(reader.remain).toBe(PAGE_SIZE);
      expect(writer.avail).toBe(PAGE_SIZE);
      const data = new Uint8Array(128).fill(0xaa);
      writer.write(data);
      expect(writer.avail).toBe(PAGE_SIZE - 128);
      const read = reader.read(128);
      expect(read).toEqual(data);
      expect(reader.remain).toBe(PAGE_SIZE - 128);
      // Written where the reader started, nothing past it (the frame was zeroed).
      expect(firstNot(frame.bytes().subarray(0, 128), 0xaa)).toBe(-1);
      expect(firstNot(frame.bytes().subarray(128), 0)).toBe(-1);
      frame.drop();
    }
    expect(sys.stats().free).toBe(64);
  });

  it('untyped_segment_reader_writer (test 23): remain/avail 2*PAGE_SIZE; 256 x 0xBB', () => {
    const sys = makeSystem();
    const segment = new FrameAllocOptions(sys).allocSegment(2);
    const reader = segment.reader();
    const writer = segment.writer();
    expect(reader.remain).toBe(2 * PAGE_SIZE);
    expect(writer.avail).toBe(2 * PAGE_SIZE);
    const data = new Uint8Array(256).fill(0xbb);
    writer.write(data);
    expect(writer.avail).toBe(2 * PAGE_SIZE - 256);
    expect(reader.read(256)).toEqual(data);
    expect(reader.remain).toBe(2 * PAGE_SIZE - 256);
    segment.drop();
    expect(sys.stats().free).toBe(64);
  });
});

describe('FrameWriter and FrameReader', () => {
  it('every writer method stores little-endian, as a DataView and the bytes by hand say', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    const w = f.writer();
    // Each method returns the writer; fields are packed unaligned on purpose.
    expect(w.writeU8(0xfe)).toBe(w); // 0
    expect(w.writeU16(0x1234)).toBe(w); // 1..2
    expect(w.writeU32(0xdeadbeef)).toBe(w); // 3..6
    expect(w.writeI32(-2)).toBe(w); // 7..10
    expect(w.writeF32(1.5)).toBe(w); // 11..14
    expect(w.writeF64(Math.PI)).toBe(w); // 15..22
    expect(w.writeBigU64(0x0102030405060708n)).toBe(w); // 23..30
    expect(w.write(Uint8Array.of(9, 8, 7))).toBe(w); // 31..33
    expect(w.avail).toBe(PAGE_SIZE - 34);
    const b = f.bytes();
    expect([...b.subarray(0, 34)]).toEqual([
      0xfe,
      0x34, 0x12,
      0xef, 0xbe, 0xad, 0xde,
      0xfe, 0xff, 0xff, 0xff,
      0x00, 0x00, 0xc0, 0x3f, // 1.5f = 0x3fc00000
      ...new Uint8Array(Float64Array.of(Math.PI).buffer), // the platform is little-endian
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
      9, 8, 7,
    ]);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    expect(dv.getUint16(1, true)).toBe(0x1234);
    expect(dv.getUint32(3, true)).toBe(0xdeadbeef);
    expect(dv.getInt32(7, true)).toBe(-2);
    expect(dv.getFloat32(11, true)).toBe(1.5);
    expect(dv.getFloat64(15, true)).toBe(Math.PI);
    expect(dv.getBigUint64(23, true)).toBe(0x0102030405060708n);
    expect(b[34]).toBe(0); // nothing past the cursor
    f.drop();
  });

  it('every reader method reads little-endian, from bytes set by hand and by a DataView', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    const b = f.bytes();
    b.set([0x7f, 0x01, 0x02, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff]);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    dv.setFloat32(11, -0.25, true);
    dv.setFloat64(15, 1e300, true);
    dv.setBigUint64(23, 0xfffffffffffffffen, true);
    dv.setUint32(31, 0x80000000, true);
    const r = f.reader();
    expect(r.readU8()).toBe(0x7f);
    expect(r.remain).toBe(PAGE_SIZE - 1);
    expect(r.readU16()).toBe(0x0201); // not 0x0102: little-endian
    expect(r.readU32()).toBe(0xffffffff); // unsigned, not -1
    expect(r.readI32()).toBe(-2);
    expect(r.readF32()).toBe(-0.25);
    expect(r.readF64()).toBe(1e300);
    expect(r.readBigU64()).toBe(0xfffffffffffffffen);
    expect(r.readI32()).toBe(-0x80000000);
    expect(r.remain).toBe(PAGE_SIZE - 35);
    expect(r.read(2)).toEqual(new Uint8Array(2));
    f.drop();
  });

  it('extreme values round-trip through writer and reader', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    f.writer()
      .writeU8(0)
      .writeU8(255)
      .writeU16(0)
      .writeU16(0xffff)
      .writeU32(0)
      .writeU32(0xffffffff)
      .writeI32(-0x80000000)
      .writeI32(0x7fffffff)
      .writeF32(Number.POSITIVE_INFINITY)
      .writeF32(Number.NaN)
      .writeF64(-0)
      .writeF64(Number.NaN)
      .writeF64(Number.MAX_VALUE)
      .writeBigU64(0n)
      .writeBigU64(2n ** 64n - 1n);
    const r = f.reader();
    expect([r.readU8(), r.readU8(), r.readU16(), r.readU16()]).toEqual([0, 255, 0, 0xffff]);
    expect([r.readU32(), r.readU32(), r.readI32(), r.readI32()]).toEqual([0, 0xffffffff, -0x80000000, 0x7fffffff]);
    expect(r.readF32()).toBe(Number.POSITIVE_INFINITY);
    expect(r.readF32()).toBeNaN();
    expect(Object.is(r.readF64(), -0)).toBe(true);
    expect(r.readF64()).toBeNaN();
    expect(r.readF64()).toBe(Number.MAX_VALUE);
    expect([r.readBigU64(), r.readBigU64()]).toEqual([0n, 2n ** 64n - 1n]);
    f.drop();
  });

  it('skip moves the cursor; skip(0) and read(0) are allowed; the end is exact', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    f.fill(0x11);
    const w = f.writer();
    expect(w.skip(10)).toBe(w);
    w.writeU8(7);
    expect(w.avail).toBe(PAGE_SIZE - 11);
    expect([...f.bytes().subarray(8, 12)]).toEqual([0x11, 0x11, 7, 0x11]);
    const r = f.reader();
    expect(r.skip(0)).toBe(r);
    expect(r.remain).toBe(PAGE_SIZE);
    r.skip(10);
    expect(r.readU8()).toBe(7);
    expect(r.read(0)).toEqual(new Uint8Array(0));
    r.skip(r.remain);
    expect(r.remain).toBe(0);
    expect(r.read(0).length).toBe(0);
    expectUseError(() => r.readU8(), 'BadRange');
    w.skip(PAGE_SIZE - 11);
    expect(w.avail).toBe(0);
    w.write(new Uint8Array(0)); // nothing to write fits
    expectUseError(() => w.writeU8(1), 'BadRange');
    f.drop();
  });

  it('read(n) returns a copy, not a view of the frame', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    f.fill(5);
    const out = f.reader().read(16);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(out.length).toBe(16);
    expect(out.buffer).not.toBe(f.bytes().buffer);
    expect(out.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    out[0] = 99;
    expect(f.bytes()[0]).toBe(5);
    f.bytes()[1] = 42;
    expect(out[1]).toBe(5);
    f.drop();
  });

  it('read(into) fills exactly the given array (or view) and returns it', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    f.bytes().set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const r = f.reader();
    const into = new Uint8Array(4);
    expect(r.read(into)).toBe(into);
    expect([...into]).toEqual([1, 2, 3, 4]);
    expect(r.remain).toBe(PAGE_SIZE - 4);
    const big = new Uint8Array(12).fill(0xee);
    const view = big.subarray(4, 8);
    expect(r.read(view)).toBe(view);
    expect([...big]).toEqual([0xee, 0xee, 0xee, 0xee, 5, 6, 7, 8, 0xee, 0xee, 0xee, 0xee]);
    expect(r.remain).toBe(PAGE_SIZE - 8);
    f.drop();
  });

  it('writer.fill sets every byte left and leaves the writer at the end', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    f.fill(1);
    const w = f.writer().skip(100);
    expect(w.fill(0xcc)).toBe(w);
    expect(w.avail).toBe(0);
    const b = f.bytes();
    expect(firstNot(b.subarray(0, 100), 1)).toBe(-1);
    expect(firstNot(b.subarray(100), 0xcc)).toBe(-1);
    w.fill(3); // nothing left: fills nothing
    expect(b[PAGE_SIZE - 1]).toBe(0xcc);
    expectUseError(() => w.writeU8(0), 'BadRange');
    // A fill of a segment's writer runs over every frame of it.
    const s = sys.allocSegment(3);
    s.writer().skip(PAGE_SIZE - 1).fill(0x42);
    expect(s.bytes()[PAGE_SIZE - 2]).toBe(0);
    expect(firstNot(s.bytes().subarray(PAGE_SIZE - 1), 0x42)).toBe(-1);
    s.drop();
    f.drop();
  });

  it('segment readers and writers run across frame boundaries', () => {
    const sys = makeSystem();
    const s = sys.allocSegment(2);
    s.writer().skip(PAGE_SIZE - 2).writeU32(0xa1b2c3d4);
    expect([...s.bytes().subarray(PAGE_SIZE - 2, PAGE_SIZE + 2)]).toEqual([0xd4, 0xc3, 0xb2, 0xa1]);
    expect(s.reader().skip(PAGE_SIZE - 2).readU32()).toBe(0xa1b2c3d4);
    const pattern = Uint8Array.from({ length: 2 * PAGE_SIZE }, (_, i) => (i * 7 + 3) & 0xff);
    const w = s.writer();
    w.write(pattern);
    expect(w.avail).toBe(0);
    const r = s.reader();
    expect(r.read(2 * PAGE_SIZE)).toEqual(pattern);
    expect(r.remain).toBe(0);
    // The second frame of the segment, as a segment of its own, holds the second half.
    const [first, second] = s.split(PAGE_SIZE);
    expect(first.reader().read(PAGE_SIZE)).toEqual(pattern.subarray(0, PAGE_SIZE));
    expect(second.reader().read(PAGE_SIZE)).toEqual(pattern.subarray(PAGE_SIZE));
    first.drop();
    second.drop();
    expect(sys.stats().free).toBe(64);
  });
});

describe('bounds and values', () => {
  it('a read past the end is BadRange: the reader does not move, the array given is untouched', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    f.fill(0x33);
    const r = f.reader().skip(PAGE_SIZE - 3);
    const into = new Uint8Array(4).fill(0x77);
    const attempts: (() => unknown)[] = [
      () => r.readU32(),
      () => r.readI32(),
      () => r.readF32(),
      () => r.readF64(),
      () => r.readBigU64(),
      () => r.read(4),
      () => r.read(into),
      () => r.skip(4),
    ];
    for (const attempt of attempts) {
      expectUseError(attempt, 'BadRange');
      expect(r.remain).toBe(3);
    }
    expect([...into]).toEqual([0x77, 0x77, 0x77, 0x77]);
    expect(r.readU16()).toBe(0x3333); // still at PAGE_SIZE - 3
    expect(r.readU8()).toBe(0x33);
    expectUseError(() => r.readU8(), 'BadRange');
    expectUseError(() => f.reader().read(PAGE_SIZE + 1), 'BadRange');
    f.drop();
  });

  it('a write past the end is BadRange: nothing is written, the writer does not move', () => {
    const sys = makeSystem();
    const targets = [io(sys.allocFrame()), io(sys.allocSegment(2))];
    for (const t of targets) {
      t.fill(0x11);
      const before = t.bytes().slice();
      const w = t.writer().skip(t.bytes().length - 3);
      const attempts: (() => unknown)[] = [
        () => w.writeU32(0x22222222),
        () => w.writeI32(-1),
        () => w.writeF32(2),
        () => w.writeF64(2),
        () => w.writeBigU64(0x2222222222222222n),
        () => w.write(new Uint8Array(4).fill(0x22)),
        () => w.skip(4),
      ];
      for (const attempt of attempts) {
        expectUseError(attempt, 'BadRange');
        expect(w.avail).toBe(3);
      }
      expect(t.bytes()).toEqual(before);
      w.writeU16(0x2222).writeU8(0x22);
      expect(w.avail).toBe(0);
      expect([...t.bytes().subarray(-4)]).toEqual([0x11, 0x22, 0x22, 0x22]);
      expectUseError(() => t.writer().write(new Uint8Array(t.bytes().length + 1)), 'BadRange');
      t.drop();
    }
    expect(sys.stats().free).toBe(64);
  });

  it('a count that is not an integer is BadValue, a negative one BadRange; the cursor does not move', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    const r = f.reader().skip(8);
    const w = f.writer().skip(8);
    for (const [n, code] of [[-1, 'BadRange'], [1.5, 'BadValue'], [Number.NaN, 'BadValue'], [Number.POSITIVE_INFINITY, 'BadValue'], [-0.5, 'BadValue']] as const) {
      expectUseError(() => r.read(n), code);
      expectUseError(() => r.skip(n), code);
      expectUseError(() => w.skip(n), code);
    }
    expect(r.remain).toBe(PAGE_SIZE - 8);
    expect(w.avail).toBe(PAGE_SIZE - 8);
    f.drop();
  });

  it('values that do not fit are BadValue: nothing written, the writer does not move', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    const u = new FrameAllocOptions(sys).allocUnique(MockUMeta);
    const s = sys.allocSegment(2);
    const all = [io(f), io(u), io(s)];
    for (const t of all) t.fill(0x5a);
    const w = f.writer().skip(4);
    const bad: (() => unknown)[] = [
      () => w.writeU8(256),
      () => w.writeU8(-1),
      () => w.writeU8(1.5),
      () => w.writeU8(Number.NaN),
      () => w.writeU16(0x10000),
      () => w.writeU16(-1),
      () => w.writeU32(2 ** 32),
      () => w.writeU32(-1),
      () => w.writeU32(0.5),
      () => w.writeI32(2 ** 31),
      () => w.writeI32(-(2 ** 31) - 1),
      () => w.writeI32(Number.POSITIVE_INFINITY),
      () => w.writeBigU64(-1n),
      () => w.writeBigU64(2n ** 64n),
      () => w.writeBigU64(1 as unknown as bigint),
      () => w.fill(256),
      () => w.fill(-1),
      () => w.fill(0.5),
      () => f.fill(256),
      () => f.fill(1.5),
      () => u.fill(-1),
      () => u.fill(300),
      () => s.fill(256),
      () => s.fill(Number.NaN),
    ];
    for (const attempt of bad) {
      expectUseError(attempt, 'BadValue');
      expect(w.avail).toBe(PAGE_SIZE - 4);
    }
    for (const t of all) expect(firstNot(t.bytes(), 0x5a)).toBe(-1);
    f.drop();
    u.drop();
    s.drop();
    expect(sys.stats().free).toBe(64);
  });
});

describe('handles', () => {
  it('bytes() is a zero-copy view of the shared memory; fill stays inside its frame', () => {
    const sys = makeSystem();
    const s = sys.allocSegment(3);
    const segmentBytes = s.bytes();
    expect(segmentBytes.length).toBe(3 * PAGE_SIZE);
    expect(segmentBytes.buffer).toBe(sys._region.mem.u8.buffer);
    expect(segmentBytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    const [a, rest] = s.split(PAGE_SIZE);
    const [b, c] = rest.split(PAGE_SIZE);
    const [fb] = [...b];
    expect(fb.paddr).toBe(a.startPaddr + PAGE_SIZE);
    const view = fb.bytes();
    expect(view.length).toBe(PAGE_SIZE);
    // Byte addresses in the buffer follow paddrs.
    expect(view.byteOffset - fb.paddr).toBe(segmentBytes.byteOffset - a.startPaddr);
    fb.fill(7);
    expect(firstNot(view, 7)).toBe(-1);
    expect(firstNot(segmentBytes.subarray(PAGE_SIZE, 2 * PAGE_SIZE), 7)).toBe(-1); // the same memory
    expect(firstNot(a.bytes(), 0)).toBe(-1); // neighbours untouched
    expect(firstNot(c.bytes(), 0)).toBe(-1);
    view[9] = 0x99;
    expect(fb.reader().skip(9).readU8()).toBe(0x99);
    fb.writer().writeU16(0xabcd);
    expect([view[0], view[1]]).toEqual([0xcd, 0xab]);
    // Another handle to the same frame sees the same bytes.
    const again = Frame.fromInUse(sys, fb.paddr);
    expect(again.bytes()[9]).toBe(0x99);
    again.drop();
    for (const h of [a, c, fb]) h.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('UniqueFrame: bytes, reader, writer and fill; metadata is not in the bytes', () => {
    const sys = makeSystem();
    const u = new FrameAllocOptions(sys).allocUnique(MockUMeta, { value: 1 });
    u.writer().writeU32(0xcafebabe);
    expect(u.reader().readU32()).toBe(0xcafebabe);
    expect([...u.bytes().subarray(0, 4)]).toEqual([0xbe, 0xba, 0xfe, 0xca]);
    u.fill(9);
    u.metaMut.value = 0xffffffff;
    expect(firstNot(u.bytes(), 9)).toBe(-1);
    const r = u.reader();
    const f = u.intoFrame(); // u is consumed, the frame keeps its bytes
    expectUseError(() => r.readU8(), 'Dropped');
    expectUseError(() => u.bytes(), 'Dropped');
    expect(firstNot(f.bytes(), 9)).toBe(-1);
    expect(f.meta.value).toBe(0xffffffff);
    f.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('FrameRef reads and writes the frame as the frame does (the kernel\'s FrameRef derefs to Frame)', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockUMeta, { value: 3 });
    f.writer().writeU32(0x01020304);
    const ref = f.borrow();
    expect(ref.reader().readU32()).toBe(0x01020304);
    expect(ref.bytes().byteOffset).toBe(f.bytes().byteOffset);
    expect(ref.referenceCount).toBe(1);
    ref.writer().skip(4).writeU8(7);
    expect(f.bytes()[4]).toBe(7);
    ref.fill(9);
    expect(firstNot(f.bytes(), 9)).toBe(-1);
    const r = ref.reader();
    const w = ref.writer();
    f.drop();
    expectUseError(() => r.readU8(), 'Dropped');
    expectUseError(() => w.writeU8(1), 'Dropped');
    expectUseError(() => ref.reader(), 'Dropped');
    expectUseError(() => ref.writer(), 'Dropped');
    expectUseError(() => ref.fill(0), 'Dropped');
    expectUseError(() => ref.bytes(), 'Dropped');
  });

  it('readers and writers of a dropped or consumed handle are Dropped, and write nothing', () => {
    const sys = makeSystem();
    // Dropped frame (a clone keeps the memory alive: the handle, not the frame, is dead).
    const f = sys.allocFrame();
    const keep = f.clone();
    const r = f.reader();
    const w = f.writer();
    f.drop();
    for (const use of [() => r.readU8(), () => r.read(1), () => r.skip(0), () => w.writeU8(1), () => w.fill(1), () => w.write(Uint8Array.of(1))]) {
      expectUseError(use, 'Dropped');
    }
    for (const use of [() => f.bytes(), () => f.reader(), () => f.writer(), () => f.fill(1)]) expectUseError(use, 'Dropped');
    expect(firstNot(keep.bytes(), 0)).toBe(-1);
    expect(r.remain).toBe(PAGE_SIZE);
    // Consumed by intoRaw: the restored handle works, the old one's cursors do not.
    const w2 = keep.writer();
    const p = keep.intoRaw();
    expectUseError(() => w2.writeU8(1), 'Dropped');
    const back = Frame.fromRaw(sys, p);
    back.writer().writeU8(1);
    expect(back.bytes()[0]).toBe(1);
    // Consumed by tryAs.
    const r3 = back.reader();
    const typed = back.tryAs(Untyped)!;
    expectUseError(() => r3.readU8(), 'Dropped');
    expect(typed.reader().readU8()).toBe(1);
    typed.drop();
    // Segments: dropped, split, iterated.
    const s = sys.allocSegment(2);
    const sr = s.reader();
    const sw = s.writer();
    const [x, y] = s.split(PAGE_SIZE);
    expectUseError(() => sr.readU8(), 'Dropped');
    expectUseError(() => sw.writeU8(1), 'Dropped');
    expectUseError(() => s.bytes(), 'Dropped');
    expectUseError(() => s.fill(0), 'Dropped');
    const xr = x.reader();
    x.drop();
    expectUseError(() => xr.readU8(), 'Dropped');
    const yw = y.writer();
    const frames = [...y];
    expectUseError(() => yw.writeU8(1), 'Dropped');
    expectUseError(() => y.reader(), 'Dropped');
    for (const g of frames) g.drop();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it('onDrop reads the contents through the FrameRef it gets; the reader expires after it', () => {
    const seen: { tag: number; remain: number; head: number; tail: number; first: number }[] = [];
    let saved: FrameReader | undefined;
    const T = defineMeta(
      'test.io.onDropReader',
      { tag: 'u32' },
      {
        untyped: true,
        onDrop: (meta, frame) => {
          const r = frame.reader();
          const remain = r.remain;
          const head = r.readU32();
          const tail = r.skip(PAGE_SIZE - 8).readU32();
          seen.push({ tag: meta.tag, remain, head, tail, first: frame.bytes()[0] });
          saved = r;
        },
      },
    );
    const sys = makeSystem();
    const f = sys.allocFrame(T, { tag: 7 });
    f.writer().writeU32(0x01020304).skip(PAGE_SIZE - 8).writeU32(0xa0b0c0d0);
    const g = f.clone();
    f.drop();
    expect(seen).toEqual([]); // not the last reference
    g.drop();
    expect(seen).toEqual([{ tag: 7, remain: PAGE_SIZE, head: 0x01020304, tail: 0xa0b0c0d0, first: 4 }]);
    expectUseError(() => saved!.readU8(), 'Dropped');
    // A unique frame, and every frame of a segment, each with its own contents.
    seen.length = 0;
    const u = new FrameAllocOptions(sys).allocUnique(T, { tag: 8 });
    u.writer().writeU32(8);
    u.drop();
    const s = sys.allocSegment(2, T, (p) => ({ tag: 100 + p / PAGE_SIZE }));
    const sw = s.writer();
    sw.writeU32(0x51);
    sw.skip(PAGE_SIZE - 4).writeU32(0x52);
    const base = 100 + s.startPaddr / PAGE_SIZE;
    s.drop();
    expect(seen.map((e) => [e.tag, e.head])).toEqual([
      [8, 8],
      [base, 0x51],
      [base + 1, 0x52],
    ]);
    // repurpose runs the old type's onDrop with the contents too.
    seen.length = 0;
    const v = new FrameAllocOptions(sys).allocUnique(T, { tag: 9 });
    v.writer().writeU32(99);
    const other = v.repurpose(MockUMeta, { value: 1 });
    expect(seen.map((e) => [e.tag, e.head])).toEqual([[9, 99]]);
    expect(other.reader().readU32()).toBe(99); // repurpose keeps the contents
    other.drop();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });

  it("a typed type's onDrop cannot read the frame (Typed), and the frame is still freed", () => {
    const codes: string[] = [];
    const T = defineMeta(
      'test.io.onDropTyped',
      { tag: 'u32' },
      {
        onDrop: (_meta, frame) => {
          try {
            // @ts-expect-error a typed frame's FrameRef has no reader
            frame.reader();
            codes.push('read');
          } catch (e) {
            codes.push((e as FrameUseError).code);
          }
        },
      },
    );
    const sys = makeSystem();
    sys.allocFrame(T, { tag: 1 }).drop();
    expect(codes).toEqual(['Typed']);
    expect(sys.stats().free).toBe(64);
  });
});

describe('typed frames', () => {
  it('refuse byte access at compile time (Frame, UniqueFrame, Segment, FrameRef) and at run time', () => {
    const sys = makeSystem();
    const t = sys.allocFrame(MockMeta, { value: 1 });
    const u = new FrameAllocOptions(sys).allocUnique(MockMeta, { value: 2 });
    const s = sys.allocSegment(2, MockMeta);
    const ref = t.borrow();
    // @ts-expect-error a typed Frame has no reader
    expectUseError(() => t.reader(), 'Typed');
    // @ts-expect-error a typed Frame has no writer
    expectUseError(() => t.writer(), 'Typed');
    // @ts-expect-error nor bytes
    expectUseError(() => t.bytes(), 'Typed');
    // @ts-expect-error a typed UniqueFrame has no reader
    expectUseError(() => u.reader(), 'Typed');
    // @ts-expect-error a typed UniqueFrame has no writer
    expectUseError(() => u.writer(), 'Typed');
    // @ts-expect-error nor bytes
    expectUseError(() => u.bytes(), 'Typed');
    // @ts-expect-error nor fill
    expectUseError(() => u.fill(0), 'Typed');
    // @ts-expect-error a typed Segment has no reader
    expectUseError(() => s.reader(), 'Typed');
    // @ts-expect-error a typed Segment has no writer
    expectUseError(() => s.writer(), 'Typed');
    // @ts-expect-error nor fill
    expectUseError(() => s.fill(0), 'Typed');
    // @ts-expect-error a typed FrameRef has no reader
    expectUseError(() => ref.reader(), 'Typed');
    // @ts-expect-error nor bytes
    expectUseError(() => ref.bytes(), 'Typed');
    t.drop();
    u.drop();
    s.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('refuse byte access at run time when reached through AnyMeta (Typed), and fill writes nothing', () => {
    const sys = makeSystem();
    const t = sys.allocFrame(MockMeta, { value: 1 });
    rawBytes(sys, t.paddr).fill(0xee); // behind the library's back, to see that nothing writes
    const dyn: Frame<AnyMeta> = Frame.fromInUse(sys, t.paddr);
    for (const use of [() => dyn.bytes(), () => dyn.reader(), () => dyn.writer(), () => dyn.fill(0), () => dyn.borrow().reader(), () => dyn.borrow().bytes()]) {
      expectUseError(use, 'Typed');
    }
    expect(firstNot(rawBytes(sys, t.paddr), 0xee)).toBe(-1);
    dyn.drop();
    // A UniqueFrame<AnyMeta>: restore without a type, then make it unique.
    const only = Frame.fromRaw(sys, t.intoRaw());
    const du = UniqueFrame.tryFrom(only)!;
    expect(du).not.toBeNull();
    for (const use of [() => du.bytes(), () => du.reader(), () => du.writer(), () => du.fill(0)]) expectUseError(use, 'Typed');
    expect(firstNot(rawBytes(sys, t.paddr), 0xee)).toBe(-1);
    du.drop();
    // A Segment<AnyMeta> restored without a type.
    const s = sys.allocSegment(2, MockMeta);
    rawBytes(sys, s.startPaddr, 2).fill(0xee);
    const ds = Segment.fromRaw(sys, s.intoRaw());
    for (const use of [() => ds.bytes(), () => ds.reader(), () => ds.writer(), () => ds.fill(0)]) expectUseError(use, 'Typed');
    expect(firstNot(rawBytes(sys, ds.startPaddr, 2), 0xee)).toBe(-1);
    ds.drop();
    // Untyped frames reached through AnyMeta do expose their bytes.
    const uf = sys.allocFrame(MockUMeta);
    const du2: Frame<AnyMeta> = Frame.fromInUse(sys, uf.paddr);
    du2.fill(4);
    expect(du2.reader().readU8()).toBe(4);
    du2.writer().writeU8(5);
    expect(uf.bytes()[0]).toBe(5);
    du2.drop();
    uf.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('a segment restored untyped with one typed frame among untyped ones refuses byte access', () => {
    const sys = makeSystem();
    const raw = sys.allocator.alloc(3, 1)!;
    const types = [MockUMeta, MockMeta, MockUMeta] as const;
    for (let k = 0; k < 3; k++) Frame.fromUnused(sys, raw + k * PAGE_SIZE, types[k]).intoRaw();
    rawBytes(sys, raw, 3).fill(0xee);
    const mixed = Segment.fromRaw(sys, { start: raw, end: raw + 3 * PAGE_SIZE });
    for (const use of [() => mixed.bytes(), () => mixed.reader(), () => mixed.writer(), () => mixed.fill(0)]) expectUseError(use, 'Typed');
    expect(firstNot(rawBytes(sys, raw, 3), 0xee)).toBe(-1);
    // Its untyped first frame, sliced off, does expose its bytes.
    const first = mixed.slice({ start: 0, end: PAGE_SIZE });
    expect(first.reader().readU8()).toBe(0xee);
    first.drop();
    mixed.drop();
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
  });
});

describe('zeroed allocation', () => {
  /** Allocates every frame of the region, fills it with 0xFF, frees it again. */
  function dirtyAll(sys: FrameSystem): void {
    const frames: Frame[] = [];
    for (;;) {
      try {
        frames.push(sys.allocFrame());
      } catch (e) {
        expect(e).toBeInstanceOf(AllocError);
        break;
      }
    }
    expect(frames.length).toBe(sys.nframes);
    for (const f of frames) f.fill(0xff);
    expect(firstNot(rawBytes(sys, 0, sys.nframes), 0xff)).toBe(-1); // the whole region is dirty
    for (const f of frames) f.drop();
    expect(sys.stats().free).toBe(sys.nframes);
  }

  it('zeroed(true), the default, gives all-zero frames, unique frames and segments from dirty memory', () => {
    const sys = makeSystem({ frames: 32 });
    const n = sys.nframes;

    // Premise: without zeroing the dirt would be seen (so the checks below can fail).
    dirtyAll(sys);
    const dirty = new FrameAllocOptions(sys).zeroed(false).allocFrame();
    expect(firstNot(dirty.bytes(), 0xff)).toBe(-1);
    dirty.drop();

    for (const opts of [new FrameAllocOptions(sys), new FrameAllocOptions(sys).zeroed(), new FrameAllocOptions(sys).zeroed(true)]) {
      dirtyAll(sys);
      const frames = Array.from({ length: n }, (_, k) => (k % 2 === 0 ? opts.allocFrame() : opts.allocFrameWith(MockUMeta, { value: k })));
      for (const f of frames) expect(firstNot(f.bytes(), 0), `frame ${f.paddr}`).toBe(-1);
      for (const f of frames) f.drop();

      dirtyAll(sys);
      const uniques = Array.from({ length: n }, () => opts.allocUnique(MockUMeta));
      for (const u of uniques) expect(firstNot(u.bytes(), 0), `unique ${u.paddr}`).toBe(-1);
      for (const u of uniques) u.drop();

      dirtyAll(sys);
      const segments = [1, 2, 3, 4, 5, 8].map((k) => opts.allocSegment(k));
      for (const s of segments) expect(firstNot(s.bytes(), 0), `segment ${s}`).toBe(-1);
      for (const s of segments) s.drop();

      // Typed frames are zeroed too (seen behind the library's back).
      dirtyAll(sys);
      const typed = Array.from({ length: n }, () => opts.allocFrameWith(MockMeta));
      for (const t of typed) expect(firstNot(rawBytes(sys, t.paddr), 0), `typed ${t.paddr}`).toBe(-1);
      for (const t of typed) t.drop();
    }

    // The shorthands are zeroed.
    dirtyAll(sys);
    const f = sys.allocFrame();
    const s = sys.allocSegment(6);
    expect(firstNot(f.bytes(), 0)).toBe(-1);
    expect(firstNot(s.bytes(), 0)).toBe(-1);
    f.drop();
    s.drop();
    expect(sys.stats().free).toBe(n);
    sys.checkInvariants();
  });

  it('zeroing a new frame does not touch its neighbours', () => {
    const sys = makeSystem({ frames: 16 });
    const all = Array.from({ length: 16 }, () => sys.allocFrame());
    for (const f of all) f.fill(0xab);
    const victim = all[7];
    const p = victim.paddr;
    victim.drop();
    const again = sys.allocFrame(); // LIFO: the same frame, zeroed
    expect(again.paddr).toBe(p);
    expect(firstNot(again.bytes(), 0)).toBe(-1);
    for (const f of all) if (f !== victim) expect(firstNot(f.bytes(), 0xab)).toBe(-1);
    again.drop();
    for (const f of all) if (f !== victim) f.drop();
    expect(sys.stats().free).toBe(16);
  });
});
