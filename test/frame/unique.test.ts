import { describe, expect, it } from 'vitest';
import {
  ContractError,
  Frame,
  FrameAllocOptions,
  FrameUseError,
  GetFrameError,
  PAGE_SIZE,
  REF_COUNT_UNIQUE,
  LinkedList,
  UniqueFrame,
  Untyped,
  defineMeta,
} from '../../src/index.js';
import { expectNoChange, makeSystem, MockMeta, MockUMeta, rawCount } from '../helpers.js';

describe('UniqueFrame', () => {
  it('fromUnused makes a unique slot that fromInUse and fromUnused refuse', () => {
    const sys = makeSystem();
    const raw = sys.allocator.alloc(1, 1)!;
    const u = UniqueFrame.fromUnused(sys, raw, MockMeta, { value: 3 });
    expect(u.referenceCount).toBe(REF_COUNT_UNIQUE);
    expect(rawCount(sys, raw)).toBe(-2);
    expect(u.meta.value).toBe(3);
    expectNoChange(sys, () => Frame.fromInUse(sys, raw), GetFrameError, 'Unique');
    expectNoChange(sys, () => UniqueFrame.fromUnused(sys, raw, MockMeta), GetFrameError, 'Unique');
    u.drop();
    expect(rawCount(sys, raw)).toBe(-1);
    expect(sys.stats().free).toBe(64); // drop returns the frame to the allocator
  });

  it('metaMut writes every plain field; meta reads them; the shared view stays read-only', () => {
    const T = defineMeta('test.unique.fields', {
      a: 'u8',
      b: 'i8',
      c: 'u16',
      d: 'i16',
      e: 'i32',
      f: 'f32',
      g: 'f64',
      h: 'i64',
      ok: 'bool',
      next: 'paddr',
      n: 'atomic-u32',
    });
    const sys = makeSystem();
    const u = new FrameAllocOptions(sys).allocUnique(T);
    const m = u.metaMut;
    m.a = 255;
    m.b = -128;
    m.c = 65535;
    m.d = -32768;
    m.e = -5;
    m.f = 1.5;
    m.g = Math.PI;
    m.h = -(2n ** 63n);
    m.ok = true;
    m.next = 8 * PAGE_SIZE;
    m.n.store(7);
    expect({ ...u.meta.toJSON() }).toEqual({
      g: Math.PI,
      h: (-(2n ** 63n)).toString(),
      e: -5,
      f: 1.5,
      n: 7,
      next: 8 * PAGE_SIZE,
      c: 65535,
      d: -32768,
      a: 255,
      b: -128,
      ok: true,
    });
    expect(u.meta.h).toBe(-(2n ** 63n));
    expect(() => {
      m.a = 256;
    }).toThrow(expect.objectContaining({ code: 'BadValue' }));
    expect(() => {
      m.next = 5;
    }).toThrow(expect.objectContaining({ code: 'BadValue' }));
    expect(() => {
      (m as unknown as { n: number }).n = 1;
    }).toThrow(expect.objectContaining({ code: 'ReadOnly' }));
    expect(u.meta.a).toBe(255);
    const f = u.intoFrame();
    expect(() => {
      (f.meta as unknown as { a: number }).a = 1;
    }).toThrow(expect.objectContaining({ code: 'ReadOnly' }));
    expect(f.meta.n.add(1)).toBe(7); // atomic fields work through shared handles
    expect(f.meta.n.load()).toBe(8);
    f.drop();
    sys.checkInvariants();
  });

  it('tryFrom succeeds only at count 1, consuming the frame only then', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 1 });
    const g = f.clone();
    expect(UniqueFrame.tryFrom(f)).toBeNull();
    expect(f.referenceCount).toBe(2); // untouched
    g.drop();
    const u = UniqueFrame.tryFrom(f);
    expect(u).not.toBeNull();
    expect(() => f.referenceCount).toThrow(/Dropped/);
    expect(rawCount(sys, u!.paddr)).toBe(-2);
    const back = u!.intoFrame();
    expect(back.referenceCount).toBe(1);
    expect(() => u!.meta).toThrow(/Dropped/);
    back.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('repurpose runs the old onDrop and keeps the frame unique', () => {
    const dropped: number[] = [];
    const A = defineMeta('test.unique.A', { x: 'u32' }, { onDrop: (m) => dropped.push(m.x) });
    const B = defineMeta('test.unique.B', { y: 'f64' });
    const sys = makeSystem();
    const a = new FrameAllocOptions(sys).allocUnique(A, { x: 5 });
    expectNoChange(sys, () => a.repurpose(B, { y: 'no' as unknown as number }), FrameUseError, 'BadValue');
    const b = a.repurpose(B, { y: 2.5 });
    expect(dropped).toEqual([5]);
    expect(b.meta.y).toBe(2.5);
    expect(b.paddr).toBe(a.paddr);
    expect(rawCount(sys, b.paddr)).toBe(-2);
    expect(() => a.meta).toThrow(/Dropped/);
    expect(sys.stats().byType).toEqual({ 'test.unique.B': 1 });
    b.drop();
    expect(dropped).toEqual([5]);
    sys.checkInvariants();
  });

  it('resetAsUnused leaves the frame unused but owned raw (not back in the allocator)', () => {
    const sys = makeSystem();
    const u = new FrameAllocOptions(sys).allocUnique(Untyped);
    const p = u.paddr;
    u.resetAsUnused();
    expect(rawCount(sys, p)).toBe(-1);
    expect(sys.stats()).toEqual(expect.objectContaining({ free: 63, raw: 1 }));
    sys.checkInvariants();
    // The raw owner may claim it again, or hand it back.
    const f = Frame.fromUnused(sys, p, Untyped);
    f.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('intoRaw and fromRaw: type and state checked; checked mode tracks forgotten references', () => {
    for (const checked of [false, true]) {
      const sys = makeSystem({ checked });
      const u = new FrameAllocOptions(sys).allocUnique(MockUMeta, { value: 9 });
      const p = u.intoRaw();
      expectNoChange(sys, () => UniqueFrame.fromRaw(sys, p, MockMeta), FrameUseError, 'WrongType');
      const back = UniqueFrame.fromRaw(sys, p, MockUMeta);
      expect(back.meta.value).toBe(9);
      if (checked) {
        const e = expectNoChange(sys, () => UniqueFrame.fromRaw(sys, p, MockUMeta), ContractError) as ContractError;
        expect(e.contract).toBe('from_raw_requires');
      }
      const f = back.intoFrame();
      expectNoChange(sys, () => UniqueFrame.fromRaw(sys, p, MockUMeta), checked ? ContractError : FrameUseError);
      f.drop();
      expect(sys.stats().free).toBe(64);
    }
  });

  it('untyped unique frames expose bytes; dispose drops', () => {
    const sys = makeSystem();
    let p = -1;
    {
      using u = new FrameAllocOptions(sys).allocUnique(MockUMeta);
      u.fill(3);
      expect(u.bytes()[4095]).toBe(3);
      p = u.paddr;
    }
    expect(rawCount(sys, p)).toBe(-1);
    expect(sys.stats().free).toBe(64);
  });

  it('fromRaw refuses a frame that a linked list owns (InList)', () => {
    const sys = makeSystem();
    const list = LinkedList.create(sys, MockMeta);
    const u = new FrameAllocOptions(sys).allocUnique(MockMeta);
    const p = u.paddr;
    list.pushBack(u); // the list owns it now
    expectNoChange(sys, () => UniqueFrame.fromRaw(sys, p, MockMeta), FrameUseError, 'InList');
    expectNoChange(sys, () => Frame.fromInUse(sys, p), GetFrameError, 'Unique');
    list.popFront()!.drop();
    list.destroy();
    expect(sys.stats().free).toBe(64);
  });
});
