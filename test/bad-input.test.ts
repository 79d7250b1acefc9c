/**
 * Bad input, as a hostile caller gives it (issue #14, items 6 and 8): for public entry points and
 * the argument positions that take an address, count, offset, range, metadata type, handle or
 * bytes, fast-check draws anything (plus the edge values below). Each call either succeeds with
 * a legal value (whatever it made is then dropped) or throws one of pageframe's exported error
 * classes, at once; after a refusal the region is exactly as before and its invariant holds. In
 * both modes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AllocError,
  ContractError,
  Frame,
  FrameChannel,
  FrameSystemError,
  FrameUseError,
  GetFrameError,
  InvariantError,
  LinkedList,
  MetaTypeError,
  PAGE_SIZE,
  Segment,
  UniqueFrame,
  defineStruct,
  type Schema,
} from '../src/index.js';
import { MockMeta, MockUMeta, firstDifference, makeSystem, snapshot } from './helpers.js';

const ERRORS = [GetFrameError, AllocError, FrameUseError, ContractError, InvariantError, MetaTypeError, FrameSystemError];

/** Edge values for numeric parameters, and things that are not numbers at all. */
const EDGES: unknown[] = [
  NaN, Infinity, -Infinity, -0, 2 ** 53, 2 ** 53 + 2, 1.5, -4096, 4095, 4096, 0, -1,
  '0', '4096', '', 5n, Symbol('x'), null, undefined, true, false, [], [4096], {}, { start: 0, end: 4096 },
  { start: '0', end: '4096' }, () => 4096, new Uint8Array(1), new Date(0),
];
const bad = fc.oneof(fc.constantFrom(...EDGES), fc.anything());

/** Drops whatever a successful call made, if it is something that holds frames. */
function release(value: unknown): void {
  if (value instanceof Frame || value instanceof UniqueFrame || value instanceof Segment) value.drop();
  else if (Array.isArray(value)) value.forEach(release);
}

describe.each([false, true])('bad input (checked: %s)', (checked) => {
  const sys = makeSystem({ checked });
  const frame = sys.allocFrame(MockUMeta, { value: 1 });
  const seg = sys.allocSegment(4);
  const list = LinkedList.create(sys, MockMeta);
  const ch = FrameChannel.create(sys, 2);
  const reader = frame.reader();
  const writer = frame.writer();
  const Rec = defineStruct('test.bad-input.struct', { x: 'f64', n: 'u32' });

  /** Entry points, each taking the bad value in one argument position. */
  const calls: [string, (x: unknown) => unknown][] = [
    ['Frame.fromInUse(sys, x)', (x) => Frame.fromInUse(sys, x as number)],
    ['Frame.fromUnused(sys, x, meta)', (x) => Frame.fromUnused(sys, x as number, MockMeta)],
    ['Frame.fromUnused(sys, 0, x)', (x) => Frame.fromUnused(sys, 0, x as typeof MockMeta)],
    // fromRaw takes over a forgotten reference the caller vouches for: a restored handle is
    // forgotten again (not dropped), so the test takes no reference that another handle holds.
    ['Frame.fromRaw(sys, x)', (x) => void Frame.fromRaw(sys, x as number).intoRaw()],
    ['UniqueFrame.fromRaw(sys, x, meta)', (x) => void UniqueFrame.fromRaw(sys, x as number, MockMeta).intoRaw()],
    ['frame.tryAs(x)', (x) => frame.tryAs(x as typeof MockMeta)],
    ['UniqueFrame.tryFrom(x)', (x) => UniqueFrame.tryFrom(x as Frame)],
    ['Segment.fromFrame(x)', (x) => Segment.fromFrame(x as Frame)],
    ['Segment.fromUnused(sys, x, meta)', (x) => Segment.fromUnused(sys, x as { start: number; end: number }, MockMeta)],
    ['Segment.fromRaw(sys, x)', (x) => void Segment.fromRaw(sys, x as { start: number; end: number }).intoRaw()],
    ['seg.slice(x)', (x) => seg.slice(x as { start: number; end: number })],
    ['seg.split(x) (on a clone)', (x) => {
      const copy = seg.clone();
      try {
        return copy.split(x as number);
      } catch (e) {
        copy.drop();
        throw e;
      }
    }],
    ['sys.allocFrame(x)', (x) => sys.allocFrame(x as typeof MockMeta)],
    ['sys.allocSegment(x)', (x) => sys.allocSegment(x as number)],
    ['allocator.alloc(x, 1)', (x) => {
      const p = sys.allocator.alloc(x as number, 1);
      if (p !== null) sys.allocator.dealloc(p, x as number);
      return p;
    }],
    ['frame.fill(x)', (x) => frame.fill(x as number)],
    ['reader.read(x)', (x) => frame.reader().read(x as number)],
    ['reader.skip(x)', (x) => reader.skip(x as number)],
    ['writer.write(x)', (x) => frame.writer().write(x as Uint8Array)],
    ['writer.skip(x)', (x) => writer.skip(x as number)],
    ['LinkedList.create(sys, x)', (x) => LinkedList.create(sys, x as typeof MockMeta).destroy()],
    ['list.pushBack(x)', (x) => list.pushBack(x as UniqueFrame<typeof MockMeta>)],
    ['list.contains(x)', (x) => list.contains(x as number)],
    ['list.cursorMutAt(x)', (x) => list.cursorMutAt(x as number)?.release()],
    ['ch.trySend(x)', (x) => ch.trySend(x as Frame)],
    ['ch.tryReceive(x)', (x) => ch.tryReceive(x as typeof MockMeta)],
    ['ch.readable(x)', (x) => void ch.readable(x as typeof MockMeta)],
    ['Struct.at(sys, x)', (x) => Rec.at(sys, x as number)],
    ['Struct.array(sys, x, 2)', (x) => Rec.array(sys, x as number, 2)],
    ['Struct.array(sys, paddr, x)', (x) => Rec.array(sys, frame.paddr, x as number)],
    ['Struct.array(…).at(x)', (x) => Rec.array(sys, frame.paddr, 4).at(x as number)],
    ['Struct.alloc(sys, x) (then freed)', (x) => Rec.free(sys, Rec.alloc(sys, x as never))],
    ['Struct.free(sys, x)', (x) => Rec.free(sys, x as never)],
    ['defineStruct(x, schema)', (x) => defineStruct(x as string, { n: 'u32' })],
    ['defineStruct(name, x)', (x) => defineStruct('test.bad-input.struct-schema', x as Schema)],
    ['sys.reclaimThread(x)', (x) => sys.reclaimThread(x as number)],
    ['sys.watch(x)', (x) => sys.watch(x as never)],
    ['ch.receive(undefined, x)', (x) => ((typeof x === 'number' && x > 10) || x === undefined ? null : ch.receive(undefined, x as number))], // undefined is the default: wait for ever
  ];

  it.each(calls)('%s: a legal result or a typed error, and a refusal changes nothing', (_name, call) => {
    fc.assert(
      fc.property(bad, (x) => {
        const before = snapshot(sys);
        const t0 = Date.now();
        let result: unknown;
        try {
          result = call(x);
        } catch (e) {
          expect(ERRORS.some((cls) => e instanceof cls), `${String(e)}`).toBe(true);
          expect(firstDifference(before, snapshot(sys)), 'a refused call changed the region').toBe(-1);
          sys.checkInvariants();
          return;
        } finally {
          expect(Date.now() - t0).toBeLessThan(2000);
        }
        release(result);
      }),
      { numRuns: 60 },
    );
  });

  it('allocator.dealloc of a held frame, or of one free in the buddy lists, is InvalidArgs and changes nothing', () => {
    for (const x of [frame.paddr, seg.startPaddr, 40 * PAGE_SIZE, '4096', null, NaN, 2 ** 53]) {
      const before = snapshot(sys);
      expect(() => sys.allocator.dealloc(x as number, 1)).toThrow(AllocError);
      expect(firstDifference(before, snapshot(sys))).toBe(-1);
    }
    sys.checkInvariants();
  });

  it('the fixtures are whole at the end', () => {
    expect(frame.referenceCount).toBe(1);
    expect(seg.nframes).toBe(4);
    expect(list.size).toBe(0);
    sys.checkInvariants();
    expect(PAGE_SIZE).toBe(4096);
  });
});
