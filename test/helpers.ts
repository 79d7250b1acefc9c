/**
 * Shared test fixtures: the kernel tests' mock metadata types, and the check that a failing
 * call left the region exactly as it was.
 */
import { expect } from 'vitest';
import { AllocError, defineMeta, FrameSystem, type FrameSystemOptions } from '../src/index.js';
import { HEADER_BYTES, H_BUDDY_LOCK, H_REGISTRY, H_REG_LOCK, H_WORKERS } from '../src/region/geometry.js';
import { RC_UNIQUE, RC_UNUSED, SLOT_WORDS, S_AUX, S_LIST, S_NEXT, S_PREV, S_STORAGE, S_TYPE, isCachedHead } from '../src/region/meta.js';
import { PAGE_SIZE } from '../src/base/units.js';

/** The kernel tests' `MockFrameMeta { value: u32 }` (typed). */
export const MockMeta = defineMeta('test.MockFrameMeta', { value: 'u32' });
/** The kernel tests' `MockUFrameMeta { value: u32 }` (untyped). */
export const MockUMeta = defineMeta('test.MockUFrameMeta', { value: 'u32' }, { untyped: true });

/** A region for a test (64 frames unless told otherwise). */
export function makeSystem(options: Partial<FrameSystemOptions> = {}): FrameSystem {
  return FrameSystem.create({ frames: 64, ...options });
}

/**
 * The logical state of the region: the header (but for the allocator's and the worker table's
 * bookkeeping), every slot's count, type, list, metadata and (while held) links and forgotten
 * count, and which frames are free in the allocator (in the buddy lists or in a worker's cache).
 * Where the allocator keeps a free frame, and the workers' journals, are not part of it: a
 * failed call may move cached frames to the buddy level (as it does before NoMemory).
 */
export function snapshot(sys: FrameSystem): Int32Array {
  const i32 = sys._region.mem.i32;
  const out: number[] = [];
  for (let w = 0; w < H_BUDDY_LOCK; w++) out.push(i32[w]);
  for (let w = H_REG_LOCK; w < H_WORKERS; w++) out.push(i32[w]);
  for (let w = H_REGISTRY; w < HEADER_BYTES >> 2; w++) out.push(i32[w]);
  const free = new Uint8Array(sys.nframes);
  sys.allocator.forEachFree?.((p, n) => free.fill(1, p / PAGE_SIZE, p / PAGE_SIZE + n));
  for (let k = 0; k < sys.nframes; k++) {
    const w = sys._region.metaWord + k * SLOT_WORDS;
    const rc = isCachedHead(i32[w]) ? RC_UNUSED : i32[w]; // where a free frame is kept is not part of it
    const held = rc !== RC_UNUSED;
    out.push(rc, i32[w + S_TYPE], i32[w + S_LIST], held ? i32[w + S_AUX] : 0);
    out.push(held ? i32[w + S_NEXT] : 0, rc === RC_UNIQUE ? i32[w + S_PREV] : 0);
    for (let s = S_STORAGE; s < SLOT_WORDS; s++) out.push(i32[w + s]);
    out.push(free[k]);
  }
  return Int32Array.from(out);
}

/**
 * Runs `fn`, expects it to throw an instance of `errorClass` (with `code` if given), and checks
 * that the header and every slot are byte-for-byte what they were before, and the invariant holds.
 */
export function expectNoChange(
  sys: FrameSystem,
  fn: () => unknown,
  errorClass: abstract new (...args: never[]) => Error,
  code?: string,
): Error {
  const before = snapshot(sys);
  const caught = expectThrown(fn, errorClass, code);
  const after = snapshot(sys);
  expect(firstDifference(before, after), 'the region changed (index into snapshot())').toBe(-1);
  sys.checkInvariants();
  return caught;
}

/** Runs `fn`, expects it to throw an instance of `cls` (with `code` if given), returns it. */
export function expectThrown<E extends Error>(fn: () => unknown, cls: abstract new (...args: never[]) => E, code?: string): E {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'the call should have thrown').toBeInstanceOf(cls);
  if (code !== undefined) expect((caught as { code?: string }).code).toBe(code);
  return caught as E;
}

/** Every frame is free again (nothing held, busy or owned raw), and the invariant holds. */
export function expectAllFree(sys: FrameSystem): void {
  const s = sys.stats();
  expect(s).toEqual(expect.objectContaining({ free: s.total, used: 0, shared: 0, unique: 0, busy: 0, raw: 0 }));
  expect(s.byType).toEqual({});
  sys.checkInvariants();
}

/** The slot's count word as the kernel's state machine sees it (-1 UNUSED, -2 UNIQUE, 0 busy, n
 *  shared): the head of a cached run reads as UNUSED (its word also says whose cache holds it). */
export function rawCount(sys: FrameSystem, paddr: number): number {
  const rc = sys._region.mem.i32[sys._region.metaWord + (paddr / PAGE_SIZE) * SLOT_WORDS];
  return isCachedHead(rc) ? RC_UNUSED : rc;
}

/** Index of the first differing element, or -1. */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Exactly `n` more single frames can be allocated, each once (then `NoMemory`); gives them back
 * and checks the region invariant.
 */
export function expectAllocatable(sys: FrameSystem, n: number): void {
  const got: { readonly paddr: number; drop(): void }[] = [];
  const seen = new Set<number>();
  for (let k = 0; k < n; k++) {
    const f = sys.allocFrame();
    expect(seen.has(f.paddr)).toBe(false);
    seen.add(f.paddr);
    got.push(f);
  }
  expectThrown(() => sys.allocFrame(), AllocError, 'NoMemory');
  for (const f of got) f.drop();
  sys.checkInvariants();
}
