import { describe, expect, it } from 'vitest';
import {
  FrameAllocOptions,
  FrameChannel,
  FrameSystem,
  FrameSystemError,
  InvariantError,
  LinkedList,
  MAX_FRAMES,
  MAX_WORKERS,
  PAGE_SIZE,
  frameToIndex,
  frameToMeta,
  metaToFrame,
} from '../src/index.js';
import { HEADER_BYTES, LAYOUT_VERSION, computeLayout } from '../src/region/geometry.js';
import { H_VERSION } from '../src/region/header.js';
import { MockMeta, makeSystem } from './helpers.js';

describe('mapping', () => {
  it('frameToIndex, frameToMeta and metaToFrame are the kernel arithmetic', () => {
    expect(frameToIndex(0)).toBe(0);
    expect(frameToIndex(5 * PAGE_SIZE)).toBe(5);
    expect(frameToMeta(5 * PAGE_SIZE)).toBe(5 * 64);
    expect(metaToFrame(5 * 64)).toBe(5 * PAGE_SIZE);
    for (const i of [0, 1, 7, 1000, MAX_FRAMES - 1]) expect(metaToFrame(frameToMeta(i * PAGE_SIZE))).toBe(i * PAGE_SIZE);
  });
});

describe('FrameSystem.create', () => {
  it('lays out header, one 64-byte slot per frame, and page-aligned frames', () => {
    const sys = FrameSystem.create({ frames: 100 });
    const layout = computeLayout(100, 0);
    expect(layout.metaOffset).toBe(HEADER_BYTES);
    expect(layout.frameOffset % PAGE_SIZE).toBe(0);
    expect(layout.frameOffset - layout.metaOffset).toBeGreaterThanOrEqual(100 * 64);
    expect(layout.frameOffset - layout.metaOffset).toBeLessThan(100 * 64 + PAGE_SIZE);
    expect(sys.nframes).toBe(100);
    expect(sys.maxPaddr).toBe(100 * PAGE_SIZE);
    expect(sys.workerId).toBe(1);
    expect(sys.checked).toBe(false);
    // The memory made for it is a shared WebAssembly.Memory of whole 64 KiB pages, no larger.
    const memory = sys.handle.memory as WebAssembly.Memory;
    expect(memory).toBeInstanceOf(WebAssembly.Memory);
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(memory.buffer.byteLength).toBe(Math.ceil(layout.totalBytes / 65536) * 65536);
    expect(sys.stats()).toEqual({ total: 100, free: 100, used: 0, shared: 0, unique: 0, busy: 0, raw: 0, byType: {} });
    sys.checkInvariants();
  });

  it('refuses bad frame counts, offsets and memories', () => {
    for (const frames of [0, -1, 1.5, NaN, MAX_FRAMES + 1]) {
      expect(() => FrameSystem.create({ frames })).toThrow(expect.objectContaining({ code: 'BadMemory' }));
    }
    expect(() => FrameSystem.create({ frames: 4, offset: 10 })).toThrow(expect.objectContaining({ code: 'BadMemory' }));
    expect(() => FrameSystem.create({ frames: 4, memory: new SharedArrayBuffer(4096) })).toThrow(/needs/);
    expect(() => FrameSystem.create({ frames: 4, memory: new ArrayBuffer(1 << 20) as unknown as SharedArrayBuffer })).toThrow(
      FrameSystemError,
    );
    const unshared = new WebAssembly.Memory({ initial: 1, maximum: 100 });
    expect(() => FrameSystem.create({ frames: 4, memory: unshared })).toThrow(/not shared/);
    const small = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    expect(() => FrameSystem.create({ frames: 4, memory: small })).toThrow(/cannot grow/);
  });

  it('an offset past 2^53 or a region too large to allocate is BadMemory, never a RangeError (issue #14, item 9)', () => {
    for (const offset of [2 ** 53, 2 ** 53 + 64, 2 ** 40]) {
      expect(() => FrameSystem.create({ frames: 4, offset })).toThrow(expect.objectContaining({ name: 'FrameSystemError', code: 'BadMemory' }));
    }
    expect(() => FrameSystem.attach({ memory: new SharedArrayBuffer(1 << 16), offset: 2 ** 53 })).toThrow(
      expect.objectContaining({ name: 'FrameSystemError', code: 'BadMemory' }),
    );
  });

  it('refuses a bad reclaimWaitMs before it writes anything (BadValue), in create and in attach', () => {
    const memory = new SharedArrayBuffer(1 << 20);
    for (const reclaimWaitMs of [-1, NaN, '5', null]) {
      expect(() => FrameSystem.create({ frames: 4, memory, reclaimWaitMs: reclaimWaitMs as number })).toThrow(
        expect.objectContaining({ name: 'FrameUseError', code: 'BadValue' }),
      );
    }
    expect(new Int32Array(memory).every((w) => w === 0)).toBe(true);
    const sys = FrameSystem.create({ frames: 4, memory, reclaimWaitMs: Infinity });
    expect(() => FrameSystem.attach(sys.handle, { reclaimWaitMs: -5 })).toThrow(expect.objectContaining({ code: 'BadValue' }));
    expect(sys.workers()).toEqual([1]);
  });

  it('leaves memory below the offset untouched, and works in a grown shared WebAssembly.Memory', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1000, shared: true });
    new Uint8Array(memory.buffer).fill(0xee, 0, 65536);
    const sys = FrameSystem.create({ frames: 16, memory, offset: 65536 });
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(65536 + computeLayout(16, 65536).totalBytes);
    const f = sys.allocFrame();
    f.fill(1);
    f.drop();
    const below = new Uint8Array(memory.buffer, 0, 65536);
    expect(below.every((b) => b === 0xee)).toBe(true);
    const other = FrameSystem.attach(sys.handle, { separate: true });
    expect(other.nframes).toBe(16);
    other.close();
  });
});

describe('FrameSystem.attach', () => {
  it('sees the same frames, with its own worker id, and inherits checked mode', () => {
    const sys = makeSystem({ checked: true });
    const other = FrameSystem.attach(sys.handle, { separate: true });
    expect(other.workerId).toBe(2);
    expect(other.checked).toBe(true);
    expect(sys.workers()).toEqual([1, 2]);
    const f = sys.allocFrame(MockMeta, { value: 8 });
    expect(other.stats().byType).toEqual({ 'test.MockFrameMeta': 1 });
    f.drop();
    other.close();
    expect(sys.workers()).toEqual([1]);
  });

  it('refuses a missing, corrupt or other-version header', () => {
    expect(() => FrameSystem.attach({ memory: new SharedArrayBuffer(HEADER_BYTES), offset: 0 })).toThrow(
      expect.objectContaining({ code: 'BadHeader' }),
    );
    expect(() => FrameSystem.attach(null as never)).toThrow(FrameSystemError);
    const sys = makeSystem();
    expect(() => FrameSystem.attach({ memory: sys.handle.memory, offset: 64 })).toThrow(
      expect.objectContaining({ code: 'BadHeader' }),
    );
    const i32 = sys._region.mem.i32;
    i32[H_VERSION] = 999;
    expect(() => FrameSystem.attach(sys.handle, { separate: true })).toThrow(expect.objectContaining({ code: 'Version' }));
    i32[H_VERSION] = LAYOUT_VERSION;
    const nframes = i32[2];
    i32[2] = nframes + 1; // frame count that no longer matches the recorded layout
    expect(() => FrameSystem.attach(sys.handle, { separate: true })).toThrow(expect.objectContaining({ code: 'BadHeader' }));
    i32[2] = nframes;
    FrameSystem.attach(sys.handle, { separate: true }).close();
  });

  it('refuses more than MAX_WORKERS attached workers, and reuses closed ids', () => {
    const sys = makeSystem({ frames: 2 });
    const views = [];
    for (let i = 1; i < MAX_WORKERS; i++) views.push(FrameSystem.attach(sys.handle, { separate: true }));
    expect(() => FrameSystem.attach(sys.handle, { separate: true })).toThrow(expect.objectContaining({ code: 'TooManyWorkers' }));
    views[4].close();
    expect(FrameSystem.attach(sys.handle, { separate: true }).workerId).toBe(6);
  });
});

describe('close', () => {
  it('closed means closed: every use of its handles is Closed and changes nothing; what they held stays in use, nothing is stranded (issue #14, item 5)', async () => {
    const sys = makeSystem();
    const other = FrameSystem.attach(sys.handle, { separate: true }); // the region lives on in another worker
    const f = sys.allocFrame(MockMeta, { value: 3 });
    const u = sys.allocFrame();
    const seg = sys.allocSegment(2);
    const view = f.meta;
    const reader = u.reader();
    const list = LinkedList.create(sys, MockMeta);
    const ch = FrameChannel.create(sys, 2);
    sys.allocFrame().drop(); // a frame in this worker's cache, given back at close
    const uniq = new FrameAllocOptions(other).allocUnique(MockMeta); // the other worker's
    sys.close();
    sys.close(); // idempotent
    expect(sys.closed).toBe(true);
    const before = other.stats();
    for (const use of [
      () => sys.allocFrame(),
      () => sys.allocSegment(2),
      () => f.drop(),
      () => f.clone(),
      () => f.meta,
      () => view.value,
      () => f.referenceCount,
      () => f.borrow(),
      () => f.intoRaw(),
      () => u.bytes(),
      () => reader.readU8(),
      () => u.writer(),
      () => seg.drop(),
      () => seg.split(PAGE_SIZE),
      () => [...seg],
      () => list.size,
      () => list.pushBack(uniq),
      () => ch.trySend(u),
      () => ch.tryReceive(),
    ]) {
      expect(use).toThrow(expect.objectContaining({ name: 'FrameUseError', code: 'Closed' }));
    }
    expect(other.stats()).toEqual(before); // nothing changed, nothing dropped
    expect(f.paddr).toBeTypeOf('number'); // the address stays readable
    // The references the closed worker held stay in use (as a dead worker's); its cache was
    // drained at close, so every other frame is free.
    expect(before.used).toBe(1 + 1 + 2 + 1 + 1); // f, u, seg, the channel's frame, uniq
    expect(before.free).toBe(64 - before.used);
    uniq.drop();
    other.close();
  });
});

describe('stats and checkInvariants', () => {
  it('counts frames by state and by type', () => {
    const sys = makeSystem();
    const a = sys.allocFrame(MockMeta);
    const b = a.clone();
    const s = sys.allocSegment(3);
    const u = sys.allocFrame().clone();
    expect(sys.stats()).toEqual({
      total: 64,
      free: 59,
      used: 5,
      shared: 5,
      unique: 0,
      busy: 0,
      raw: 0,
      byType: { 'test.MockFrameMeta': 1, 'pageframe.untyped': 4 },
    });
    const raw = sys.allocator.alloc(2, 1)!;
    expect(sys.stats()).toEqual(expect.objectContaining({ free: 57, raw: 2 }));
    sys.allocator.dealloc(raw, 2);
    a.drop();
    b.drop();
    s.drop();
    u.drop();
  });

  it('detects each kind of broken slot', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 3 });
    const w = sys._region.metaWord + (f.paddr / PAGE_SIZE) * 16;
    const i32 = sys._region.mem.i32;
    const breakAndCheck = (word: number, value: number, pattern: RegExp): void => {
      const old = i32[word];
      i32[word] = value;
      expect(() => sys.checkInvariants()).toThrow(InvariantError);
      expect(() => sys.checkInvariants()).toThrow(pattern);
      i32[word] = old;
      sys.checkInvariants();
    };
    breakAndCheck(w, 0x7fff_ffff + 1, /illegal reference count/);
    breakAndCheck(w, 0, /busy outside an operation/);
    breakAndCheck(w + 1, 99, /unregistered type/);
    breakAndCheck(w + 2, 5, /shared but in a list/);
    const freeWord = sys._region.metaWord + 63 * 16;
    breakAndCheck(freeWord + 1, 1, /UNUSED but has type/);
    breakAndCheck(freeWord + 6, 1, /storage is not zero/);
    // A free frame that reads as held: the allocator check sees it.
    const aux = i32[freeWord + 5];
    i32[freeWord + 1] = i32[w + 1];
    i32[freeWord + 5] = 0; // its free mark would read as forgotten references of a held slot
    i32[freeWord] = 1;
    expect(() => sys.checkInvariants()).toThrow(/free frame .* is not UNUSED/);
    i32[freeWord] = -1;
    i32[freeWord + 1] = 0;
    i32[freeWord + 5] = aux;
    sys.checkInvariants();
    // Forgotten references beyond the references held (unchecked mode records none at all).
    breakAndCheck(w + 5, 1, /forgotten reference/);
    f.drop();
  });
});
