import { describe, expect, it } from 'vitest';
import {
  ContractError,
  Frame,
  FrameAllocOptions,
  FrameSystem,
  FrameUseError,
  GetFrameError,
  PAGE_SIZE,
  REF_COUNT_MAX,
  Segment,
  UniqueFrame,
  Untyped,
  defineMeta,
} from '../../src/index.js';
import { expectNoChange, makeSystem, MockMeta, MockUMeta, rawCount } from '../helpers.js';

describe('Frame (kernel tests mod frame)', () => {
  it('frame_allocation: metadata, count 1, size and map level', () => {
    const sys = makeSystem();
    const f = new FrameAllocOptions(sys).allocFrameWith(MockMeta, { value: 42 });
    expect(f.meta.value).toBe(42);
    expect(f.referenceCount).toBe(1);
    expect(f.size).toBe(PAGE_SIZE);
    expect(f.mapLevel).toBe(1);
    expect(f.endPaddr).toBe(f.paddr + PAGE_SIZE);
    f.drop();
  });

  it('frame_clone: same paddr and metadata, both see count 2', () => {
    const sys = makeSystem();
    const f1 = sys.allocFrame(MockMeta, { value: 42 });
    const f2 = f1.clone();
    expect(f2.paddr).toBe(f1.paddr);
    expect(f2.meta.value).toBe(f1.meta.value);
    expect(f1.referenceCount).toBe(2);
    expect(f2.referenceCount).toBe(2);
    f1.drop();
    expect(f2.referenceCount).toBe(1);
    f2.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('frame_drop: the freed frame comes back at the same address', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 42 });
    const p = f.paddr;
    f.drop();
    const g = sys.allocFrame(MockMeta, { value: 42 });
    expect(g.paddr).toBe(p);
    expect(g.referenceCount).toBe(1);
    expect(g.meta.value).toBe(42);
    g.drop();
  });

  it('frame_to_uframe and frame_conversions: dynamic type and tryAs', () => {
    const sys = makeSystem();
    const uf = sys.allocFrame(MockUMeta, { value: 42 });
    expect(uf.size).toBe(PAGE_SIZE);
    const typed = sys.allocFrame(MockMeta, { value: 42 });
    const dyn = Frame.fromInUse(sys, typed.paddr);
    expect(dyn.metaType.untyped).toBe(false);
    expect(dyn.metaType).toBe(MockMeta);
    expect(dyn.tryAs(MockUMeta)).toBeNull();
    expect(dyn.referenceCount).toBe(2); // untouched by the failed tryAs
    const back = dyn.tryAs(MockMeta);
    expect(back).not.toBeNull();
    expect(back!.meta.value).toBe(42);
    expect(() => dyn.referenceCount).toThrow(FrameUseError); // consumed by the successful tryAs
    back!.drop();
    typed.drop();
    uf.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('frame_ref_preserves_refcnt: borrowing never touches the count', () => {
    const sys = makeSystem();
    const frame = sys.allocFrame(MockMeta, { value: 42 });
    {
      const r = frame.borrow();
      expect(r.meta.value).toBe(42);
      expect(r.referenceCount).toBe(1);
      expect(frame.referenceCount).toBe(1);
      expect(r.paddr).toBe(frame.paddr);
      expect(r.size).toBe(PAGE_SIZE);
    }
    expect(frame.referenceCount).toBe(1);
    const r = frame.borrow();
    const c = r.clone();
    expect(frame.referenceCount).toBe(2);
    c.drop();
    frame.drop();
    expect(() => r.meta).toThrow(FrameUseError);
    expect(() => r.clone()).toThrow(/Dropped/);
  });

  it('frame_impls_non_null_ptr: intoRaw and fromRaw round trip', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockUMeta, { value: 42 });
    const raw = f.intoRaw();
    expect(rawCount(sys, raw)).toBe(1); // the count stays with the address
    const back = Frame.fromRaw(sys, raw, MockUMeta);
    expect(back.paddr).toBe(raw);
    expect(back.meta.value).toBe(42);
    expect(back.borrow().paddr).toBe(raw);
    back.drop();
    expect(rawCount(sys, raw)).toBe(-1);
  });
});

describe('Frame.fromUnused', () => {
  it('refuses a frame that is free in the allocator, before anything changes: Free, or from_unused_requires when checked (issue #14, item 4)', () => {
    for (const checked of [false, true]) {
      const sys = makeSystem({ checked });
      const cls = checked ? ContractError : GetFrameError;
      const code = checked ? 'Contract' : 'Free';
      // At the buddy level (never allocated), and in this worker's cache (allocated, dropped).
      expectNoChange(sys, () => Frame.fromUnused(sys, 5 * PAGE_SIZE, MockMeta), cls, code);
      const f = sys.allocFrame();
      const cached = f.paddr;
      f.drop();
      expectNoChange(sys, () => Frame.fromUnused(sys, cached, MockMeta), cls, code);
      expectNoChange(sys, () => UniqueFrame.fromUnused(sys, cached, MockMeta), cls, code);
      // A range with one free frame among raw ones: all or nothing.
      const raw = sys.allocator.alloc(2, 2)!;
      expectNoChange(sys, () => Segment.fromUnused(sys, { start: raw, end: raw + 3 * PAGE_SIZE }, MockMeta), cls, code);
      const seg = Segment.fromUnused(sys, { start: raw, end: raw + 2 * PAGE_SIZE }, MockMeta); // raw frames: fine
      seg.drop();
      expect(sys.stats().free).toBe(64);
    }
  });

  it('claims a raw unused frame and reports every GetFrameError code', () => {
    const sys = makeSystem();
    const raw = sys.allocator.alloc(1, 1)!;
    expectNoChange(sys, () => Frame.fromUnused(sys, raw + 1, MockMeta), GetFrameError, 'NotAligned');
    expectNoChange(sys, () => Frame.fromUnused(sys, sys.maxPaddr, MockMeta), GetFrameError, 'OutOfBound');
    expectNoChange(sys, () => Frame.fromUnused(sys, -PAGE_SIZE, MockMeta), GetFrameError, 'OutOfBound');
    expectNoChange(sys, () => Frame.fromUnused(sys, NaN, MockMeta), GetFrameError, 'NotAligned');
    const f = Frame.fromUnused(sys, raw, MockMeta, { value: 7 });
    expect(f.meta.value).toBe(7);
    expect(f.referenceCount).toBe(1);
    expectNoChange(sys, () => Frame.fromUnused(sys, raw, MockMeta), GetFrameError, 'InUse');
    f.drop(); // goes back to the allocator, as in the kernel
    const u = new FrameAllocOptions(sys).allocUnique(MockMeta);
    expectNoChange(sys, () => Frame.fromUnused(sys, u.paddr, MockMeta), GetFrameError, 'Unique');
    u.drop();
    expect(sys.stats().free).toBe(64);
  });

  it('reports Busy for a slot mid-operation', () => {
    const sys = makeSystem();
    const raw = sys.allocator.alloc(1, 1)!;
    const w = sys._region.metaWord + (raw / PAGE_SIZE) * 16;
    sys._region.mem.i32[w] = 0; // as if another worker were between claim and publish
    expect(() => Frame.fromUnused(sys, raw, MockMeta)).toThrow(expect.objectContaining({ code: 'Busy' }));
    expect(() => Frame.fromInUse(sys, raw)).toThrow(expect.objectContaining({ code: 'Busy' }));
    sys._region.mem.i32[w] = -1;
  });

  it('refuses bad metadata before touching the slot', () => {
    const sys = makeSystem();
    const raw = sys.allocator.alloc(1, 1)!;
    for (const bad of [-1, 2 ** 32, 1.5, NaN, '3']) {
      expectNoChange(sys, () => Frame.fromUnused(sys, raw, MockMeta, { value: bad as number }), FrameUseError, 'BadValue');
    }
    expectNoChange(
      sys,
      () => Frame.fromUnused(sys, raw, MockMeta, { valeu: 1 } as unknown as { value: number }),
      FrameUseError,
      'BadValue',
    );
  });
});

describe('Frame.fromInUse', () => {
  it('adds a reference, and reports Unused, Unique, NotAligned, OutOfBound', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 3 });
    const g = Frame.fromInUse(sys, f.paddr);
    expect(f.referenceCount).toBe(2);
    expect(g.meta.value).toBe(3);
    g.drop();
    const free = sys.allocator.alloc(1, 1)!;
    expectNoChange(sys, () => Frame.fromInUse(sys, free), GetFrameError, 'Unused');
    expectNoChange(sys, () => Frame.fromInUse(sys, 5), GetFrameError, 'NotAligned');
    expectNoChange(sys, () => Frame.fromInUse(sys, sys.maxPaddr), GetFrameError, 'OutOfBound');
    const u = new FrameAllocOptions(sys).allocUnique(MockMeta);
    expectNoChange(sys, () => Frame.fromInUse(sys, u.paddr), GetFrameError, 'Unique');
    u.drop();
    f.drop();
  });

  it('NotAligned is reported before OutOfBound, as get_slot does', () => {
    const sys = makeSystem();
    expect(() => Frame.fromInUse(sys, sys.maxPaddr + 1)).toThrow(expect.objectContaining({ code: 'NotAligned' }));
  });

  it('reads the metadata of a type this worker never used, from the registry', () => {
    const sys = makeSystem();
    const T = defineMeta('test.frame.registry-read', { a: 'u16', b: 'f64' });
    const f = sys.allocFrame(T, { a: 9, b: 0.5 });
    const other = FrameSystem.attach(sys.handle, { separate: true }); // a view with no local ids: the registry must answer
    const g = Frame.fromInUse(other, f.paddr);
    expect(g.metaType.name).toBe('test.frame.registry-read');
    expect(g.meta).toEqual(expect.objectContaining({ a: 9, b: 0.5 }));
    g.drop();
    f.drop();
    other.close();
  });
});

describe('reference count limits', () => {
  it('a clone past REF_COUNT_MAX is Overflow and changes nothing', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta);
    const w = sys._region.metaWord + (f.paddr / PAGE_SIZE) * 16;
    sys._region.mem.i32[w] = REF_COUNT_MAX;
    expectNoChange(sys, () => f.clone(), FrameUseError, 'Overflow');
    expectNoChange(sys, () => Frame.fromInUse(sys, f.paddr), FrameUseError, 'Overflow');
    expect(f.referenceCount).toBe(REF_COUNT_MAX);
    sys._region.mem.i32[w] = 1;
    f.drop();
  });
});

describe('handle lifecycle', () => {
  it('refuses every use after drop, and a double drop', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(Untyped);
    f.drop();
    expect(f.paddr).toBeTypeOf('number'); // the address stays readable
    for (const use of [
      () => f.drop(),
      () => f.clone(),
      () => f.meta,
      () => f.referenceCount,
      () => f.borrow(),
      () => f.intoRaw(),
      () => f.tryAs(Untyped),
      () => f.bytes(),
      () => f.fill(1),
    ]) {
      expect(use).toThrow(expect.objectContaining({ name: 'FrameUseError', code: 'Dropped' }));
    }
    expect(sys.stats().free).toBe(64);
  });

  it('refuses use after intoRaw; dispose leaves a consumed handle alone', () => {
    const sys = makeSystem();
    let raw = -1;
    {
      using f = sys.allocFrame(MockMeta, { value: 5 });
      raw = f.intoRaw();
      expect(() => f.meta).toThrow(/Dropped/);
    }
    expect(rawCount(sys, raw)).toBe(1); // dispose did not drop the forgotten reference
    Frame.fromRaw(sys, raw, MockMeta).drop();
    expect(sys.stats().free).toBe(64);
  });

  it('metadata views die with their handle', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 1 });
    const m = f.meta;
    expect(m.value).toBe(1);
    f.drop();
    expect(() => m.value).toThrow(/Dropped/);
  });

  it('metadata through a shared handle is read-only', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 1 });
    expect(() => {
      (f.meta as { value: number }).value = 2;
    }).toThrow(expect.objectContaining({ code: 'ReadOnly' }));
    expect(f.meta.value).toBe(1);
    f.drop();
  });
});

describe('Frame.fromRaw', () => {
  it('unchecked: restores, checks the type, and refuses a frame nobody holds', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 1 });
    const raw = f.intoRaw();
    expectNoChange(sys, () => Frame.fromRaw(sys, raw, MockUMeta), FrameUseError, 'WrongType');
    const any = Frame.fromRaw(sys, raw);
    expect(any.metaType).toBe(MockMeta);
    any.drop();
    expectNoChange(sys, () => Frame.fromRaw(sys, raw), FrameUseError, 'NotHeld');
    expectNoChange(sys, () => Frame.fromRaw(sys, raw + 8), GetFrameError, 'NotAligned');
  });

  it('checked: from_raw_requires catches a fromRaw with no intoRaw and a second one', () => {
    const sys = makeSystem({ checked: true });
    const f = sys.allocFrame(MockMeta, { value: 1 });
    const e1 = expectNoChange(sys, () => Frame.fromRaw(sys, f.paddr), ContractError) as ContractError;
    expect(e1.contract).toBe('from_raw_requires');
    expect(e1.paddr).toBe(f.paddr);
    const raw = f.intoRaw();
    const back = Frame.fromRaw(sys, raw, MockMeta);
    expectNoChange(sys, () => Frame.fromRaw(sys, raw), ContractError);
    back.drop();
    const e2 = expectNoChange(sys, () => Frame.fromRaw(sys, raw), ContractError) as ContractError;
    expect(e2.message).toMatch(/not held/);
    expect(sys.stats().free).toBe(64);
  });

  it('checked: forgotten references from one frame are restored one for one', () => {
    const sys = makeSystem({ checked: true });
    const f = sys.allocFrame(MockMeta);
    const g = f.clone();
    const p1 = f.intoRaw();
    const p2 = g.intoRaw();
    const a = Frame.fromRaw(sys, p1);
    const b = Frame.fromRaw(sys, p2);
    expect(() => Frame.fromRaw(sys, p1)).toThrow(ContractError);
    a.drop();
    b.drop();
    expect(sys.stats().free).toBe(64);
  });
});

describe('onDrop', () => {
  it('runs once, on the last drop, with the metadata and a borrowed reference', () => {
    const seen: { value: number; paddr: number; bytes: number }[] = [];
    const T = defineMeta('test.frame.ondrop', { value: 'u32' }, {
      untyped: true,
      onDrop: (meta, frame) => {
        seen.push({ value: meta.value, paddr: frame.paddr, bytes: frame.bytes()[0] });
        expect(() => frame.clone()).toThrow(/being dropped/);
      },
    });
    const sys = makeSystem();
    const f = sys.allocFrame(T, { value: 11 });
    f.bytes()[0] = 0x5a;
    const g = f.clone();
    f.drop();
    expect(seen).toHaveLength(0);
    g.drop();
    expect(seen).toEqual([{ value: 11, paddr: g.paddr, bytes: 0x5a }]);
    sys.checkInvariants();
  });

  it('an onDrop that throws still frees the frame, then rethrows', () => {
    const T = defineMeta('test.frame.ondrop-throws', { value: 'u32' }, {
      onDrop: () => {
        throw new Error('boom');
      },
    });
    const sys = makeSystem();
    const f = sys.allocFrame(T, { value: 1 });
    expect(() => f.drop()).toThrow('boom');
    expect(sys.stats().free).toBe(64);
    sys.checkInvariants();
    expect(() => f.drop()).toThrow(/Dropped/);
  });
});

describe('untyped bytes', () => {
  it('bytes() is a zero-copy view of the frame; fill sets every byte', () => {
    const sys = makeSystem();
    const f = sys.allocFrame();
    const b = f.bytes();
    expect(b.length).toBe(PAGE_SIZE);
    expect(b.buffer).toBe(sys._region.mem.u8.buffer);
    f.fill(7);
    expect(b.every((x) => x === 7)).toBe(true);
    const again = Frame.fromInUse(sys, f.paddr);
    expect(again.bytes()[100]).toBe(7);
    expect(() => f.fill(256)).toThrow(expect.objectContaining({ code: 'BadValue' }));
    expect(f.borrow().bytes()[5]).toBe(7);
    again.drop();
    f.drop();
  });

  it('a typed frame reached through AnyMeta refuses byte access at run time', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta);
    const dyn = Frame.fromInUse(sys, f.paddr);
    expect(() => dyn.bytes()).toThrow(expect.objectContaining({ code: 'Typed' }));
    expect(() => dyn.fill(0)).toThrow(expect.objectContaining({ code: 'Typed' }));
    dyn.drop();
    f.drop();
  });

  it('Segment.fromFrame keeps the reference', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(MockMeta, { value: 42 });
    const seg = Segment.fromFrame(f);
    expect(seg.size).toBe(PAGE_SIZE);
    expect(seg.startPaddr).toBe(f.paddr);
    expect(() => f.meta).toThrow(/Dropped/);
    const frames = [...seg];
    expect(frames[0].meta.value).toBe(42);
    frames[0].drop();
    expect(sys.stats().free).toBe(64);
  });
});
