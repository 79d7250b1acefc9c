/**
 * `Segment`: the kernel's segment tests (ostd/src/mm/frame/test.rs, mod segment), with its panics
 * turned into `FrameUseError('BadRange')`, plus `Segment.fromUnused` on raw frames (all or
 * nothing), reference counts, `intoRaw`/`fromRaw`, iteration, `onDrop` and byte access.
 */
import { describe, expect, it } from 'vitest';
import {
  ContractError,
  Frame,
  FrameAllocOptions,
  FrameUseError,
  GetFrameError,
  AllocError,
  PAGE_SIZE,
  REF_COUNT_UNIQUE,
  REF_COUNT_UNUSED,
  Segment,
  UniqueFrame,
  Untyped,
  defineMeta,
  type AnyMeta,
  type FrameSystem,
  type PaddrRange,
} from '../../src/index.js';
import { expectAllFree, expectNoChange, expectThrown, firstDifference, makeSystem, MockMeta, MockUMeta, snapshot } from '../helpers.js';
import { RC_UNUSED, isCachedHead } from '../../src/region/meta.js';

/** Words in a MetaSlot; the reference count is word 0 of the slot. */
const SLOT_WORDS = 16;

/** Word index of the reference count of the frame at `paddr`. */
function countWord(sys: FrameSystem, paddr: number): number {
  return sys._region.metaWord + (paddr / PAGE_SIZE) * SLOT_WORDS;
}

/** The frame's reference count as the API reports it (unsigned), read without taking a reference. */
function refCount(sys: FrameSystem, paddr: number): number {
  const rc = Atomics.load(sys._region.mem.i32, countWord(sys, paddr));
  return (isCachedHead(rc) ? RC_UNUSED : rc) >>> 0; // a cached run's head is unused too (its mark says whose cache)
}

/** `n` raw frames straight from the allocator: UNUSED, not free, owned by the test. */
function rawRange(sys: FrameSystem, n: number): PaddrRange {
  const start = sys.allocator.alloc(n, 1);
  expect(start).not.toBeNull();
  return { start: start as number, end: (start as number) + n * PAGE_SIZE };
}

/** Gives raw frames back to the allocator. */
function freeRaw(sys: FrameSystem, range: PaddrRange): void {
  sys.allocator.dealloc(range.start, (range.end - range.start) / PAGE_SIZE);
}

/** Uses the type once so it is registered in `sys` (registration is not what these tests watch). */
function register(sys: FrameSystem, meta: AnyMeta): void {
  sys.allocFrame(meta).drop();
}

class InitFailure extends Error {}

describe('kernel segment tests', () => {
  it('segment_creation: a 512-frame segment spans 512 pages', () => {
    const sys = makeSystem({ frames: 1024 });
    const seg = new FrameAllocOptions(sys).allocSegment(512);
    expect(seg.size).toBe(512 * PAGE_SIZE);
    expect(seg.nframes).toBe(512);
    expect(seg.endPaddr - seg.startPaddr).toBe(512 * PAGE_SIZE);
    expect(seg.startPaddr % PAGE_SIZE).toBe(0);
    for (let p = seg.startPaddr; p < seg.endPaddr; p += PAGE_SIZE) expect(refCount(sys, p)).toBe(1);
    expect(sys.stats().free).toBe(512);
    seg.drop();
    expectAllFree(sys);
  });

  it('empty_segment_creation: allocating 0 frames is InvalidArgs', () => {
    const sys = makeSystem();
    expectNoChange(sys, () => new FrameAllocOptions(sys).allocSegment(0), AllocError, 'InvalidArgs');
  });

  it('zeroed_segment_creation: a zeroed segment reads all zeros, even over a dirtied frame', () => {
    const sys = makeSystem();
    const dirty = new FrameAllocOptions(sys).allocSegment(1);
    dirty.fill(0xcd);
    const paddr = dirty.startPaddr;
    dirty.drop();
    const seg = new FrameAllocOptions(sys).zeroed(true).allocSegment(1);
    expect(seg.startPaddr).toBe(paddr); // the same frame came back: it had 0xcd bytes
    const bytes = seg.bytes();
    expect(bytes.length).toBe(PAGE_SIZE);
    expect(bytes.every((b) => b === 0)).toBe(true);
    seg.drop();
    expectAllFree(sys);
  });

  it('segment_split: a 2-frame segment splits into two 1-frame halves', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2);
    const start = seg.startPaddr;
    const [a, b] = seg.split(PAGE_SIZE);
    expect(a.size).toBe(PAGE_SIZE);
    expect(b.size).toBe(PAGE_SIZE);
    expect(a.startPaddr).toBe(start);
    expect(a.endPaddr).toBe(start + PAGE_SIZE);
    expect(b.startPaddr).toBe(start + PAGE_SIZE);
    expect(b.endPaddr).toBe(start + 2 * PAGE_SIZE);
    // A split moves the references: no count changes, and the original is consumed.
    expect(refCount(sys, start)).toBe(1);
    expect(refCount(sys, start + PAGE_SIZE)).toBe(1);
    expectThrown(() => seg.drop(), FrameUseError, 'Dropped');
    a.drop();
    expect(refCount(sys, start)).toBe(REF_COUNT_UNUSED);
    expect(refCount(sys, start + PAGE_SIZE)).toBe(1);
    b.drop();
    expectAllFree(sys);
  });

  it('segment_slice: slicing the middle frame of three', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(3);
    const slice = seg.slice({ start: PAGE_SIZE, end: 2 * PAGE_SIZE });
    expect(slice.size).toBe(PAGE_SIZE);
    expect(slice.startPaddr).toBe(seg.startPaddr + PAGE_SIZE);
    expect(slice.endPaddr).toBe(seg.startPaddr + 2 * PAGE_SIZE);
    slice.drop();
    seg.drop();
    expectAllFree(sys);
  });

  it('segment_iteration: iterating yields each frame with its metadata', () => {
    const sys = makeSystem();
    const seg = new FrameAllocOptions(sys).allocSegmentWith(2, MockMeta, () => ({ value: 42 }));
    const start = seg.startPaddr;
    let count = 0;
    for (const frame of seg) {
      expect(frame.paddr).toBe(start + count * PAGE_SIZE);
      expect(frame.meta.value).toBe(42);
      expect(frame.referenceCount).toBe(1);
      frame.drop();
      count++;
    }
    expect(count).toBe(2);
    expectAllFree(sys);
  });

  it('invalid_segment_split: offsets outside (0, size) or unaligned are BadRange', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2);
    for (const offset of [0, 2 * PAGE_SIZE, 3 * PAGE_SIZE, -PAGE_SIZE, 1, PAGE_SIZE - 1, PAGE_SIZE + 1, NaN, 2 ** 52]) {
      expectNoChange(sys, () => seg.split(offset), FrameUseError, 'BadRange');
    }
    // A refused split consumes nothing: the segment still works.
    const [a, b] = seg.split(PAGE_SIZE);
    a.drop();
    b.drop();
    expectAllFree(sys);
  });

  it('segment_slice_out_of_bounds: out-of-range or unaligned offsets are BadRange', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2);
    const far = 2 ** 52; // a multiple of PAGE_SIZE, as the kernel's usize::MAX - (PAGE_SIZE - 1)
    const bad: PaddrRange[] = [
      { start: far, end: far },
      { start: 0, end: far },
      { start: 0, end: 3 * PAGE_SIZE },
      { start: 3 * PAGE_SIZE, end: 3 * PAGE_SIZE },
      { start: 2 * PAGE_SIZE, end: PAGE_SIZE },
      { start: -PAGE_SIZE, end: PAGE_SIZE },
      { start: 1, end: PAGE_SIZE },
      { start: 0, end: PAGE_SIZE + 1 },
      { start: PAGE_SIZE / 2, end: PAGE_SIZE / 2 },
      { start: NaN, end: PAGE_SIZE },
    ];
    for (const range of bad) {
      expectNoChange(sys, () => seg.slice(range), FrameUseError, 'BadRange');
    }
    seg.drop();
    expectAllFree(sys);
  });

  it('frame_to_segment: Segment.fromFrame holds the frame as a one-frame segment', () => {
    const sys = makeSystem();
    const frame = new FrameAllocOptions(sys).allocFrameWith(MockMeta, { value: 42 });
    const paddr = frame.paddr;
    const seg = Segment.fromFrame(frame);
    expect(seg.size).toBe(PAGE_SIZE);
    expect(seg.startPaddr).toBe(paddr);
    expect(seg.endPaddr).toBe(frame.endPaddr);
    expect(refCount(sys, paddr)).toBe(1); // the reference moved, none was added
    expectThrown(() => frame.drop(), FrameUseError, 'Dropped');
    const values: number[] = [];
    for (const f of seg) {
      values.push(f.meta.value);
      f.drop();
    }
    expect(values).toEqual([42]);
    expectAllFree(sys);
  });

  it('segment_drop: a dropped segment is reused at the same address', () => {
    const sys = makeSystem();
    const held = sys.allocSegment(3); // not a fresh region
    const options = new FrameAllocOptions(sys);
    const seg = options.allocSegment(1);
    const paddr = seg.startPaddr;
    seg.drop();
    expect(refCount(sys, paddr)).toBe(REF_COUNT_UNUSED);
    const again = options.allocSegment(1);
    expect(again.startPaddr).toBe(paddr);
    again.drop();
    held.drop();
    expectAllFree(sys);
  });
});

describe('Segment.fromUnused on raw frames', () => {
  it('claims every frame with its own metadata, and its drop gives them to the allocator', () => {
    const sys = makeSystem();
    const range = rawRange(sys, 4);
    const seen: number[] = [];
    const seg = Segment.fromUnused(sys, range, MockMeta, (p) => {
      seen.push(p);
      return { value: p / PAGE_SIZE + 100 };
    });
    expect(seen).toEqual([0, 1, 2, 3].map((k) => range.start + k * PAGE_SIZE));
    expect(seg.startPaddr).toBe(range.start);
    expect(seg.endPaddr).toBe(range.end);
    expect(seg.nframes).toBe(4);
    expect(seg.metaType).toBe(MockMeta);
    for (let p = range.start; p < range.end; p += PAGE_SIZE) {
      expect(refCount(sys, p)).toBe(1);
      const f = Frame.fromInUse(sys, p).tryAs(MockMeta);
      expect(f).not.toBeNull();
      expect(f!.meta.value).toBe(p / PAGE_SIZE + 100);
      f!.drop();
    }
    expect(sys.stats().raw).toBe(0);
    sys.checkInvariants();
    seg.drop();
    expectAllFree(sys);
  });

  it('claims raw frames without init (zero metadata) and with the default Untyped', () => {
    const sys = makeSystem();
    const range = rawRange(sys, 2);
    const seg = Segment.fromUnused(sys, range, MockMeta);
    const frames = [...seg];
    expect(frames.map((f) => f.meta.value)).toEqual([0, 0]);
    for (const f of frames) f.drop();
    const range2 = rawRange(sys, 2);
    const useg = Segment.fromUnused(sys, range2, Untyped);
    expect(useg.bytes().length).toBe(2 * PAGE_SIZE);
    useg.drop();
    expectAllFree(sys);
  });

  it('NotAligned for an unaligned start, then for an unaligned end', () => {
    const sys = makeSystem();
    const range = rawRange(sys, 4);
    let e = expectNoChange(
      sys,
      () => Segment.fromUnused(sys, { start: range.start + 1, end: range.end }, MockMeta),
      GetFrameError,
      'NotAligned',
    ) as GetFrameError;
    expect(e.paddr).toBe(range.start + 1);
    e = expectNoChange(
      sys,
      () => Segment.fromUnused(sys, { start: range.start, end: range.end - 1 }, MockMeta),
      GetFrameError,
      'NotAligned',
    ) as GetFrameError;
    expect(e.paddr).toBe(range.end - 1);
    // Both unaligned: the start is reported, as the kernel checks it first.
    e = expectNoChange(
      sys,
      () => Segment.fromUnused(sys, { start: range.start + 8, end: range.end + 8 }, MockMeta),
      GetFrameError,
      'NotAligned',
    ) as GetFrameError;
    expect(e.paddr).toBe(range.start + 8);
    freeRaw(sys, range);
    expectAllFree(sys);
  });

  it('OutOfBound when the range ends past the region', () => {
    const sys = makeSystem({ frames: 8 });
    const range = rawRange(sys, 8);
    for (const end of [sys.maxPaddr + PAGE_SIZE, sys.maxPaddr * 4]) {
      const e = expectNoChange(
        sys,
        () => Segment.fromUnused(sys, { start: sys.maxPaddr - PAGE_SIZE, end }, MockMeta),
        GetFrameError,
        'OutOfBound',
      ) as GetFrameError;
      expect(e.paddr).toBe(end);
    }
    // A range that ends exactly at maxPaddr is fine.
    const seg = Segment.fromUnused(sys, { start: sys.maxPaddr - PAGE_SIZE, end: sys.maxPaddr }, MockMeta);
    seg.drop();
    freeRaw(sys, { start: range.start, end: range.end - PAGE_SIZE });
    expectAllFree(sys);
  });

  it('InUse on a shared frame mid-range: the frames claimed before it are unclaimed', () => {
    const sys = makeSystem();
    register(sys, MockMeta);
    const range = rawRange(sys, 4);
    const third = range.start + 2 * PAGE_SIZE;
    const held = Frame.fromUnused(sys, third, Untyped);
    const e = expectNoChange(sys, () => Segment.fromUnused(sys, range, MockMeta), GetFrameError, 'InUse') as GetFrameError;
    expect(e.paddr).toBe(third);
    expect(refCount(sys, range.start)).toBe(REF_COUNT_UNUSED);
    expect(refCount(sys, range.start + PAGE_SIZE)).toBe(REF_COUNT_UNUSED);
    expect(refCount(sys, third)).toBe(1);
    // The held frame was not touched; a segment around it still works.
    const before = Segment.fromUnused(sys, { start: range.start, end: third }, MockMeta);
    const after = Segment.fromUnused(sys, { start: third + PAGE_SIZE, end: range.end }, MockMeta);
    before.drop();
    after.drop();
    held.drop();
    expectAllFree(sys);
  });

  it('Unique on a frame held by a UniqueFrame', () => {
    const sys = makeSystem();
    register(sys, MockMeta);
    const range = rawRange(sys, 3);
    const last = range.end - PAGE_SIZE;
    const unique = UniqueFrame.fromUnused(sys, last, MockUMeta, { value: 7 });
    const e = expectNoChange(sys, () => Segment.fromUnused(sys, range, MockMeta), GetFrameError, 'Unique') as GetFrameError;
    expect(e.paddr).toBe(last);
    expect(refCount(sys, last)).toBe(REF_COUNT_UNIQUE);
    expect(unique.meta.value).toBe(7);
    unique.drop();
    freeRaw(sys, { start: range.start, end: last });
    expectAllFree(sys);
  });

  it('Busy on a slot whose count is 0 (being set up or torn down)', () => {
    const sys = makeSystem();
    register(sys, MockMeta);
    const range = rawRange(sys, 3);
    const mid = range.start + PAGE_SIZE;
    const w = countWord(sys, mid);
    sys._region.mem.i32[w] = 0;
    const before = snapshot(sys);
    const e = expectThrown(() => Segment.fromUnused(sys, range, MockMeta), GetFrameError, 'Busy');
    expect(e.paddr).toBe(mid);
    expect(firstDifference(before, snapshot(sys)), 'the region changed').toBe(-1);
    sys._region.mem.i32[w] = -1; // UNUSED again
    sys.checkInvariants();
    const seg = Segment.fromUnused(sys, range, MockMeta);
    seg.drop();
    expectAllFree(sys);
  });

  it('an empty or reversed range is BadRange', () => {
    const sys = makeSystem();
    const range = rawRange(sys, 2);
    expectNoChange(sys, () => Segment.fromUnused(sys, { start: range.start, end: range.start }, MockMeta), FrameUseError, 'BadRange');
    expectNoChange(sys, () => Segment.fromUnused(sys, { start: range.end, end: range.start }, MockMeta), FrameUseError, 'BadRange');
    expectNoChange(sys, () => Segment.fromUnused(sys, { start: 0, end: 0 }, MockMeta), FrameUseError, 'BadRange');
    freeRaw(sys, range);
    expectAllFree(sys);
  });

  it('an init that throws midway: all or nothing', () => {
    const sys = makeSystem();
    register(sys, MockMeta);
    const range = rawRange(sys, 4);
    let calls = 0;
    const err = expectNoChange(
      sys,
      () =>
        Segment.fromUnused(sys, range, MockMeta, (p) => {
          if (++calls === 3) throw new InitFailure(`no metadata for ${p}`);
          return { value: 1 };
        }),
      InitFailure,
    );
    expect(err.message).toBe(`no metadata for ${range.start + 2 * PAGE_SIZE}`);
    expect(calls).toBe(3);
    for (let p = range.start; p < range.end; p += PAGE_SIZE) expect(refCount(sys, p)).toBe(REF_COUNT_UNUSED);
    expect(sys.stats().raw).toBe(4);
    // The caller still owns the raw range and can claim it.
    const seg = Segment.fromUnused(sys, range, MockMeta, () => ({ value: 2 }));
    seg.drop();
    expectAllFree(sys);
  });

  it('an init that returns a bad value: BadValue, all or nothing', () => {
    const sys = makeSystem();
    register(sys, MockMeta);
    const range = rawRange(sys, 4);
    type Init = { value: number };
    const badValues: unknown[] = [{ value: -1 }, { value: 2 ** 32 }, { value: 1.5 }, { value: 'x' }, { nope: 1 }, 5];
    for (const bad of badValues) {
      let calls = 0;
      expectNoChange(
        sys,
        () => Segment.fromUnused(sys, range, MockMeta, () => (++calls === 2 ? (bad as Init) : { value: 9 })),
        FrameUseError,
        'BadValue',
      );
      expect(calls).toBe(2);
    }
    freeRaw(sys, range);
    expectAllFree(sys);
  });
  it('a failed fromUnused leaves the type registry as it was (init throws on a later frame)', () => {
    const sys = makeSystem();
    const Fresh = defineMeta('test.segment.freshOnThrow', { value: 'u32' });
    const range = rawRange(sys, 3);
    let calls = 0;
    expectNoChange(
      sys,
      () =>
        Segment.fromUnused(sys, range, Fresh, () => {
          if (++calls === 2) throw new InitFailure('second frame');
          return { value: 1 };
        }),
      InitFailure,
    );
    freeRaw(sys, range);
    expectAllFree(sys);
  });

  it('a failed fromUnused leaves the type registry as it was (InUse on a later frame)', () => {
    const sys = makeSystem();
    const Fresh = defineMeta('test.segment.freshOnInUse', { value: 'u32' });
    const range = rawRange(sys, 3);
    const held = Frame.fromUnused(sys, range.end - PAGE_SIZE, Untyped);
    expectNoChange(sys, () => Segment.fromUnused(sys, range, Fresh), GetFrameError, 'InUse');
    held.drop();
    freeRaw(sys, { start: range.start, end: range.end - PAGE_SIZE });
    expectAllFree(sys);
  });
});

describe('segment reference counts', () => {
  it('clone adds one reference to each frame; dropping the clone takes it away', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(3, MockMeta, (p) => ({ value: p }));
    const copy = seg.clone();
    expect(copy.startPaddr).toBe(seg.startPaddr);
    expect(copy.endPaddr).toBe(seg.endPaddr);
    for (let p = seg.startPaddr; p < seg.endPaddr; p += PAGE_SIZE) expect(refCount(sys, p)).toBe(2);
    const copy2 = copy.clone();
    for (let p = seg.startPaddr; p < seg.endPaddr; p += PAGE_SIZE) expect(refCount(sys, p)).toBe(3);
    copy.drop();
    copy2.drop();
    for (let p = seg.startPaddr; p < seg.endPaddr; p += PAGE_SIZE) expect(refCount(sys, p)).toBe(1);
    expect(sys.stats().free).toBe(sys.nframes - 3);
    seg.drop();
    expectAllFree(sys);
  });

  it('slice adds one reference to the sliced frames only', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(4);
    const s = seg.startPaddr;
    const slice = seg.slice({ start: PAGE_SIZE, end: 3 * PAGE_SIZE });
    expect([0, 1, 2, 3].map((k) => refCount(sys, s + k * PAGE_SIZE))).toEqual([1, 2, 2, 1]);
    const whole = seg.slice({ start: 0, end: seg.size });
    expect([0, 1, 2, 3].map((k) => refCount(sys, s + k * PAGE_SIZE))).toEqual([2, 3, 3, 2]);
    whole.drop();
    seg.drop();
    // The slice keeps its frames alive; the others are free.
    expect([0, 1, 2, 3].map((k) => refCount(sys, s + k * PAGE_SIZE))).toEqual([REF_COUNT_UNUSED, 1, 1, REF_COUNT_UNUSED]);
    expect(sys.stats().free).toBe(sys.nframes - 2);
    sys.checkInvariants();
    slice.drop();
    expectAllFree(sys);
  });

  it('a slice of an empty range is allowed and touches no count', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2);
    for (const at of [0, PAGE_SIZE, 2 * PAGE_SIZE]) {
      const before = snapshot(sys);
      const empty = seg.slice({ start: at, end: at });
      expect(firstDifference(before, snapshot(sys))).toBe(-1);
      expect(empty.size).toBe(0);
      expect(empty.nframes).toBe(0);
      expect(empty.startPaddr).toBe(seg.startPaddr + at);
      empty.drop();
      expect(firstDifference(before, snapshot(sys))).toBe(-1);
    }
    seg.drop();
    expectAllFree(sys);
  });

  it('a 1-frame segment cannot be split', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(1);
    for (const offset of [0, PAGE_SIZE, PAGE_SIZE / 2]) {
      expectNoChange(sys, () => seg.split(offset), FrameUseError, 'BadRange');
    }
    seg.drop();
    expectAllFree(sys);
  });

  it('dropping a segment whose frames have other references keeps those frames', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(3, MockMeta, (p) => ({ value: p / PAGE_SIZE }));
    const s = seg.startPaddr;
    const other = Frame.fromInUse(sys, s + PAGE_SIZE).tryAs(MockMeta)!;
    expect(other).not.toBeNull();
    expect(refCount(sys, s + PAGE_SIZE)).toBe(2);
    seg.drop();
    expect(refCount(sys, s)).toBe(REF_COUNT_UNUSED);
    expect(refCount(sys, s + 2 * PAGE_SIZE)).toBe(REF_COUNT_UNUSED);
    expect(refCount(sys, s + PAGE_SIZE)).toBe(1);
    expect(other.meta.value).toBe(s / PAGE_SIZE + 1);
    expectThrown(() => Frame.fromInUse(sys, s), GetFrameError, 'Unused');
    expect(sys.stats().free).toBe(sys.nframes - 1);
    sys.checkInvariants();
    other.drop();
    expectAllFree(sys);
  });

  it('fromFrame consumes the frame without changing its count', () => {
    const sys = makeSystem();
    const frame = sys.allocFrame();
    const clone = frame.clone();
    const seg = Segment.fromFrame(frame);
    expect(refCount(sys, frame.paddr)).toBe(2);
    expectThrown(() => frame.clone(), FrameUseError, 'Dropped');
    expect(frame.paddr).toBe(seg.startPaddr); // a consumed handle keeps its paddr readable
    seg.drop();
    expect(clone.referenceCount).toBe(1);
    clone.drop();
    expectAllFree(sys);
  });
});

describe('Segment intoRaw / fromRaw', () => {
  it('round trip with meta: the references come back', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(3, MockMeta, (p) => ({ value: p / PAGE_SIZE }));
    const range = seg.intoRaw();
    expect(range).toEqual({ start: seg.startPaddr, end: seg.endPaddr });
    expectThrown(() => seg.clone(), FrameUseError, 'Dropped');
    for (let p = range.start; p < range.end; p += PAGE_SIZE) expect(refCount(sys, p)).toBe(1);
    const back = Segment.fromRaw(sys, range, MockMeta);
    expect(back.metaType).toBe(MockMeta);
    expect(back.nframes).toBe(3);
    for (let p = range.start; p < range.end; p += PAGE_SIZE) expect(refCount(sys, p)).toBe(1);
    const values = [...back].map((f) => {
      const v = f.meta.value;
      f.drop();
      return v;
    });
    expect(values).toEqual([0, 1, 2].map((k) => range.start / PAGE_SIZE + k));
    expectAllFree(sys);
  });

  it('round trip without meta: the type is read from the slots', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2, MockMeta, () => ({ value: 5 }));
    const range = seg.intoRaw();
    const back = Segment.fromRaw(sys, range);
    expect(back.metaType.name).toBe(MockMeta.name);
    for (const f of back) {
      expect(f.metaType.name).toBe(MockMeta.name);
      const typed = f.tryAs(MockMeta);
      expect(typed).not.toBeNull();
      expect(typed!.meta.value).toBe(5);
      typed!.drop();
    }
    expectAllFree(sys);
  });

  it('WrongType on a mismatched meta leaves everything as it was', () => {
    for (const checked of [false, true]) {
      const sys = makeSystem({ checked });
      const seg = sys.allocSegment(2, MockMeta, () => ({ value: 3 }));
      const range = seg.intoRaw();
      expectNoChange(sys, () => Segment.fromRaw(sys, range, MockUMeta), FrameUseError, 'WrongType');
      expectNoChange(sys, () => Segment.fromRaw(sys, range, Untyped), FrameUseError, 'WrongType');
      const back = Segment.fromRaw(sys, range, MockMeta);
      back.drop();
      expectAllFree(sys);
    }
  });

  it('WrongType when one frame of the range is of another type', () => {
    const sys = makeSystem();
    const range = rawRange(sys, 2);
    const a = Frame.fromUnused(sys, range.start, MockMeta, { value: 1 });
    const b = Frame.fromUnused(sys, range.start + PAGE_SIZE, MockUMeta, { value: 2 });
    a.intoRaw();
    b.intoRaw();
    expectNoChange(sys, () => Segment.fromRaw(sys, range, MockMeta), FrameUseError, 'WrongType');
    // Without meta the segment is mixed; its frames keep their own types.
    const mixed = Segment.fromRaw(sys, range);
    const types = [...mixed].map((f) => {
      const name = f.metaType.name;
      f.drop();
      return name;
    });
    expect(types).toEqual([MockMeta.name, MockUMeta.name]);
    expectAllFree(sys);
  });

  it('checked: a second fromRaw of one intoRaw is from_raw_requires, with the region unchanged', () => {
    const sys = makeSystem({ checked: true });
    const seg = sys.allocSegment(3, MockMeta);
    const range = seg.intoRaw();
    const back = Segment.fromRaw(sys, range, MockMeta);
    const e = expectNoChange(sys, () => Segment.fromRaw(sys, range, MockMeta), ContractError) as ContractError;
    expect(e.contract).toBe('from_raw_requires');
    expect(e.code).toBe('Contract');
    expect(e.paddr).toBe(range.start);
    expectNoChange(sys, () => Segment.fromRaw(sys, range), ContractError);
    back.drop();
    expectAllFree(sys);
  });

  it('checked: fromRaw of a range never forgotten is from_raw_requires, with the region unchanged', () => {
    const sys = makeSystem({ checked: true });
    const seg = sys.allocSegment(3, MockMeta);
    const range = { start: seg.startPaddr, end: seg.endPaddr };
    const e = expectNoChange(sys, () => Segment.fromRaw(sys, range, MockMeta), ContractError) as ContractError;
    expect(e.contract).toBe('from_raw_requires');
    // Free frames were never forgotten either.
    const free = { start: seg.endPaddr, end: seg.endPaddr + 2 * PAGE_SIZE };
    const e2 = expectNoChange(sys, () => Segment.fromRaw(sys, free), ContractError) as ContractError;
    expect(e2.contract).toBe('from_raw_requires');
    for (let p = range.start; p < range.end; p += PAGE_SIZE) expect(refCount(sys, p)).toBe(1);
    seg.drop();
    expectAllFree(sys);
  });

  it('checked: a range only partly forgotten is refused and the forgotten part is kept', () => {
    const sys = makeSystem({ checked: true });
    const seg = sys.allocSegment(3, MockMeta);
    const [head, tail] = seg.split(PAGE_SIZE * 2);
    const headRange = head.intoRaw();
    const whole = { start: headRange.start, end: tail.endPaddr };
    const e = expectNoChange(sys, () => Segment.fromRaw(sys, whole, MockMeta), ContractError) as ContractError;
    expect(e.contract).toBe('from_raw_requires');
    expect(e.paddr).toBe(tail.startPaddr);
    // The two forgotten references are still there to restore, once.
    const back = Segment.fromRaw(sys, headRange, MockMeta);
    expectNoChange(sys, () => Segment.fromRaw(sys, headRange, MockMeta), ContractError);
    back.drop();
    tail.drop();
    expectAllFree(sys);
  });

  it('unchecked: fromRaw of frames nobody holds is NotHeld', () => {
    const sys = makeSystem();
    expectNoChange(sys, () => Segment.fromRaw(sys, { start: 0, end: 2 * PAGE_SIZE }), FrameUseError, 'NotHeld');
    expectAllFree(sys);
  });
});

describe('segment iteration', () => {
  it('consumes the segment: using it after for..of is Dropped', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2);
    const frames: Frame[] = [];
    for (const f of seg) frames.push(f);
    for (const use of [() => seg.drop(), () => seg.clone(), () => seg.slice({ start: 0, end: 0 }), () => seg.intoRaw(), () => seg.bytes(), () => seg.split(PAGE_SIZE), () => [...seg]]) {
      expectNoChange(sys, use, FrameUseError, 'Dropped');
    }
    expect(frames.map((f) => f.referenceCount)).toEqual([1, 1]);
    for (const f of frames) f.drop();
    expectAllFree(sys);
  });

  it('the segment is consumed as soon as iteration starts', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2);
    const iter = seg[Symbol.iterator]();
    expectThrown(() => seg.drop(), FrameUseError, 'Dropped');
    const first = iter.next();
    expect(first.done).toBe(false);
    iter.return?.();
    expect(sys.stats().free).toBe(sys.nframes - 1);
    (first.value as Frame).drop();
    expectAllFree(sys);
  });

  it('breaking out early drops the frames not yet yielded', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(4, MockMeta, () => ({ value: 1 }));
    const s = seg.startPaddr;
    let kept: Frame<typeof MockMeta> | undefined;
    for (const f of seg) {
      kept = f;
      break;
    }
    expect(kept!.paddr).toBe(s);
    expect(refCount(sys, s)).toBe(1);
    for (let k = 1; k < 4; k++) {
      expect(refCount(sys, s + k * PAGE_SIZE)).toBe(REF_COUNT_UNUSED);
      expectThrown(() => Frame.fromInUse(sys, s + k * PAGE_SIZE), GetFrameError, 'Unused');
    }
    expect(sys.stats().free).toBe(sys.nframes - 1);
    sys.checkInvariants();
    kept!.drop();
    expectAllFree(sys);
  });

  it('disposing the iterator drops what was not yielded', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(3);
    let first: Frame | undefined;
    {
      using iter = seg[Symbol.iterator]();
      first = iter.next().value as Frame;
    }
    expect(sys.stats().free).toBe(sys.nframes - 1);
    first.drop();
    expectAllFree(sys);
  });
});

describe('segment onDrop', () => {
  it('runs once per frame, on the last drop only', () => {
    const log: [number, number][] = [];
    const Logged = defineMeta('test.segment.logged', { value: 'u32' }, {
      onDrop: (meta, frame) => {
        log.push([frame.paddr, meta.value]);
      },
    });
    const sys = makeSystem();
    const seg = sys.allocSegment(3, Logged, (p) => ({ value: p / PAGE_SIZE + 10 }));
    const s = seg.startPaddr;
    const copy = seg.clone();
    const slice = seg.slice({ start: PAGE_SIZE, end: 2 * PAGE_SIZE });
    copy.drop();
    seg.drop();
    expect(log).toEqual([
      [s, s / PAGE_SIZE + 10],
      [s + 2 * PAGE_SIZE, s / PAGE_SIZE + 12],
    ]);
    slice.drop();
    expect(log).toEqual([
      [s, s / PAGE_SIZE + 10],
      [s + 2 * PAGE_SIZE, s / PAGE_SIZE + 12],
      [s + PAGE_SIZE, s / PAGE_SIZE + 11],
    ]);
    expectAllFree(sys);
  });

  it('an onDrop that throws: the error surfaces from drop() but every frame is freed', () => {
    let calls = 0;
    const Failing = defineMeta('test.segment.failingOnDrop', { value: 'u32' }, {
      onDrop: (meta) => {
        calls++;
        throw new Error(`onDrop failed for ${meta.value}`);
      },
    });
    const sys = makeSystem();
    const seg = sys.allocSegment(3, Failing, (p) => ({ value: p / PAGE_SIZE }));
    const s = seg.startPaddr;
    const e = expectThrown(() => seg.drop(), Error);
    expect(e.message).toBe(`onDrop failed for ${s / PAGE_SIZE}`); // the first one
    expect(calls).toBe(3);
    for (let k = 0; k < 3; k++) expect(refCount(sys, s + k * PAGE_SIZE)).toBe(REF_COUNT_UNUSED);
    expectAllFree(sys);
    expectThrown(() => seg.drop(), FrameUseError, 'Dropped');
    // The frames are reusable.
    const again = sys.allocSegment(3);
    expect(again.startPaddr).toBe(s);
    again.drop();
    expectAllFree(sys);
  });
});

describe('segment bytes', () => {
  it('bytes() of an untyped segment covers all its bytes, zero-copy', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(3);
    const bytes = seg.bytes();
    expect(bytes.length).toBe(3 * PAGE_SIZE);
    expect(bytes.buffer).toBe(sys._region.mem.u8.buffer);
    seg.fill(0x5a);
    expect(bytes.every((b) => b === 0x5a)).toBe(true);
    bytes[0] = 1;
    bytes[PAGE_SIZE + 7] = 2;
    bytes[3 * PAGE_SIZE - 1] = 3;
    const frames = [...seg.clone()];
    expect(frames[0].bytes()[0]).toBe(1);
    expect(frames[1].bytes()[7]).toBe(2);
    expect(frames[2].bytes()[PAGE_SIZE - 1]).toBe(3);
    expect(frames[1].bytes()[0]).toBe(0x5a);
    for (const f of frames) f.drop();
    // A slice sees the same bytes.
    const mid = seg.slice({ start: PAGE_SIZE, end: 2 * PAGE_SIZE });
    expect(mid.bytes().length).toBe(PAGE_SIZE);
    expect(mid.bytes()[7]).toBe(2);
    mid.drop();
    seg.drop();
    expectAllFree(sys);
  });

  it('bytes() and fill() of a typed segment are Typed', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2, MockMeta);
    // @ts-expect-error byte access does not type-check on a typed segment
    expectThrown(() => seg.bytes(), FrameUseError, 'Typed');
    const dyn = seg as unknown as Segment<AnyMeta>;
    expectThrown(() => dyn.bytes(), FrameUseError, 'Typed');
    const before = sys._region.mem.u8.slice(sys._region.frameByte + seg.startPaddr, sys._region.frameByte + seg.endPaddr);
    expectThrown(() => dyn.fill(0xff), FrameUseError, 'Typed');
    const after = sys._region.mem.u8.slice(sys._region.frameByte + seg.startPaddr, sys._region.frameByte + seg.endPaddr);
    expect(firstDifference(before, after)).toBe(-1);
    seg.drop();
    expectAllFree(sys);
  });

  it('an untyped-typed segment (MockUMeta) exposes bytes', () => {
    const sys = makeSystem();
    const seg = sys.allocSegment(2, MockUMeta);
    expect(seg.bytes().length).toBe(2 * PAGE_SIZE);
    seg.drop();
    expectAllFree(sys);
  });

  it('a segment restored without meta is Typed if any frame is typed', () => {
    const sys = makeSystem();
    const range = rawRange(sys, 2);
    Frame.fromUnused(sys, range.start, Untyped).intoRaw();
    Frame.fromUnused(sys, range.start + PAGE_SIZE, MockMeta).intoRaw();
    const mixed = Segment.fromRaw(sys, range);
    expect(mixed.metaType.untyped).toBe(true); // the first frame's type
    expectThrown(() => mixed.bytes(), FrameUseError, 'Typed');
    mixed.drop();
    expectAllFree(sys);
  });
});
