import { describe, expect, it } from 'vitest';
import {
  FRAME_METADATA_MAX_SIZE,
  Frame,
  FrameSystem,
  MAX_TYPES,
  MetaTypeError,
  Untyped,
  defineMeta,
} from '../../src/index.js';
import { expectNoChange, makeSystem } from '../helpers.js';

describe('defineMeta', () => {
  it('lays fields out by alignment, and reports the size used', () => {
    const T = defineMeta('test.meta.layout', { flag: 'bool', big: 'u64', small: 'u16', word: 'u32' });
    expect(T.size).toBe(8 + 4 + 2 + 1);
    expect(T.name).toBe('test.meta.layout');
    expect(T.untyped).toBe(false);
    expect(Untyped.untyped).toBe(true);
    expect(Untyped.size).toBe(0);
  });

  it('refuses a schema larger than the 40-byte storage, at definition', () => {
    expect(() => defineMeta('test.meta.too-large', { a: 'f64', b: 'f64', c: 'f64', d: 'f64', e: 'f64', f: 'u8' })).toThrow(
      expect.objectContaining({ name: 'MetaTypeError', code: 'TooLarge' }),
    );
    const exact = defineMeta('test.meta.exact', { a: 'f64', b: 'f64', c: 'f64', d: 'f64', e: 'u32', f: 'u32' });
    expect(exact.size).toBe(FRAME_METADATA_MAX_SIZE);
  });

  it('refuses a type whose descriptor does not fit a registry entry, when first used', () => {
    const schema: Record<string, 'u8'> = {};
    for (let i = 0; i < 20; i++) schema[`a_rather_long_field_name_number_${i}`] = 'u8';
    const T = defineMeta('test.meta.long-names', schema);
    expect(T.size).toBe(20);
    const sys = makeSystem();
    expectNoChange(sys, () => sys.allocFrame(T), MetaTypeError, 'TooLarge');
    expect(sys.stats().free).toBe(64);
  });

  it('refuses unknown kinds and unusable field or type names', () => {
    expect(() => defineMeta('test.meta.bad-kind', { a: 'u128' as 'u64' })).toThrow(
      expect.objectContaining({ code: 'BadSchema' }),
    );
    for (const name of ['_$h', 'constructor', '__proto__', 'toJSON', '1a', 'a-b']) {
      expect(() => defineMeta(`test.meta.bad-name.${name}`, { [name]: 'u8' })).toThrow(
        expect.objectContaining({ code: 'BadSchema' }),
      );
    }
    expect(() => defineMeta('', {})).toThrow(expect.objectContaining({ code: 'BadSchema' }));
    expect(() => defineMeta('x'.repeat(129), {})).toThrow(expect.objectContaining({ code: 'BadSchema' }));
  });

  it('same name and schema gives the same type (field order does not matter); another schema is a Conflict', () => {
    const a = defineMeta('test.meta.same', { x: 'u32', y: 'u8' });
    const b = defineMeta('test.meta.same', { y: 'u8', x: 'u32' });
    expect(b).toBe(a);
    expect(() => defineMeta('test.meta.same', { x: 'u32' })).toThrow(expect.objectContaining({ code: 'Conflict' }));
    expect(() => defineMeta('test.meta.same', { x: 'u32', y: 'u8' }, { untyped: true })).toThrow(
      expect.objectContaining({ code: 'Conflict' }),
    );
  });

  it('defining again with onDrop sets this worker’s onDrop', () => {
    const seen: number[] = [];
    const T = defineMeta('test.meta.late-ondrop', { v: 'u32' });
    const sys = makeSystem();
    sys.allocFrame(T, { v: 1 }).drop();
    defineMeta('test.meta.late-ondrop', { v: 'u32' }, { onDrop: (m) => seen.push(m.v) });
    sys.allocFrame(T, { v: 2 }).drop();
    expect(seen).toEqual([2]);
  });
});

describe('the region type registry', () => {
  it('gives a type the same id in every view of the region', () => {
    const T = defineMeta('test.meta.registry-ids', { v: 'u32' });
    const sys = makeSystem();
    const other = FrameSystem.attach(sys.handle, { separate: true });
    const f = sys.allocFrame(T, { v: 4 });
    const g = Frame.fromInUse(other, f.paddr);
    expect(g.metaType).toBe(T);
    const h = g.tryAs(T)!;
    expect(h.meta.v).toBe(4);
    h.drop();
    f.drop();
    expect(other.stats().free).toBe(64);
    other.close();
  });

  it('refuses a type whose name the region knows with another schema (the caller keeps no frame)', () => {
    const sys = makeSystem();
    // Register 'test.meta.clash' in the region with one schema, through the descriptor as
    // another worker (that defined it differently) would.
    const A = defineMeta('test.meta.clash', { v: 'u32' });
    sys.allocFrame(A).drop();
    // A second program in another worker defined the same name differently. Simulate it by
    // writing that type's descriptor under a new name and renaming it in the registry.
    const B = defineMeta('test.meta.clash-other', { w: 'f64' });
    const before = sys.freeFrames();
    // Same name, other schema: rename B's descriptor to A's name to play the other worker.
    const fake = Object.create(Object.getPrototypeOf(B), {
      ...Object.getOwnPropertyDescriptors(B),
      name: { value: 'test.meta.clash' },
      _descriptor: { value: B._descriptor.replace('test.meta.clash-other', 'test.meta.clash') },
      _sys: { value: undefined, writable: true },
      _regions: { value: [] },
    });
    expectNoChange(sys, () => sys.allocFrame(fake), MetaTypeError, 'Conflict');
    expect(sys.freeFrames()).toBe(before);
  });

  it('reports RegistryFull past MAX_TYPES, without losing the frame', () => {
    const sys = makeSystem({ frames: 4 });
    for (let i = sys._region.mem.i32[50]; i < MAX_TYPES; i++) {
      sys.allocFrame(defineMeta(`test.meta.full.${i}`, { v: 'u8' })).drop();
    }
    const extra = defineMeta('test.meta.full.extra', { v: 'u8' });
    expectNoChange(sys, () => sys.allocFrame(extra), MetaTypeError, 'RegistryFull');
    expect(sys.stats().free).toBe(4);
  });
});

describe('metadata values', () => {
  it('starts missing fields at zero, false and null', () => {
    const T = defineMeta('test.meta.zero', { n: 'i32', b: 'bool', p: 'paddr', big: 'u64', at: 'atomic-i32' });
    const sys = makeSystem();
    const f = sys.allocFrame(T);
    expect(f.meta.n).toBe(0);
    expect(f.meta.b).toBe(false);
    expect(f.meta.p).toBeNull();
    expect(f.meta.big).toBe(0n);
    expect(f.meta.at.load()).toBe(0);
    f.drop();
  });

  it('keeps values exact at the edges of each kind', () => {
    const T = defineMeta('test.meta.edges', { u: 'u32', i: 'i32', big: 'u64', p: 'paddr' });
    const sys = makeSystem();
    const f = sys.allocFrame(T, { u: 2 ** 32 - 1, i: -(2 ** 31), big: 2n ** 64n - 1n, p: 0 });
    expect(f.meta.u).toBe(2 ** 32 - 1);
    expect(f.meta.i).toBe(-(2 ** 31));
    expect(f.meta.big).toBe(2n ** 64n - 1n);
    expect(f.meta.p).toBe(0); // paddr 0 is a real address, not null
    f.drop();
  });

  it('rejects values that do not fit, before allocating anything', () => {
    const T = defineMeta('test.meta.reject', { u: 'u8', big: 'u64', b: 'bool', f: 'f32' });
    const sys = makeSystem();
    for (const init of [{ u: 256 }, { u: -1 }, { big: 1 }, { big: -1n }, { b: 1 }, { f: '1' }, { nope: 1 }]) {
      expectNoChange(sys, () => sys.allocFrame(T, init as never), Error, 'BadValue');
    }
    expect(sys.stats().free).toBe(64);
  });

  it('atomic fields support every Atomics operation through a shared handle', () => {
    const T = defineMeta('test.meta.atomic', { c: 'atomic-u32', s: 'atomic-i32' });
    const sys = makeSystem();
    const f = sys.allocFrame(T, { c: 1, s: -1 });
    const c = f.meta.c;
    expect(c.add(2)).toBe(1);
    expect(c.sub(1)).toBe(3);
    expect(c.or(8)).toBe(2);
    expect(c.and(8)).toBe(10);
    expect(c.xor(1)).toBe(8);
    expect(c.exchange(100)).toBe(9);
    expect(c.compareExchange(100, 5)).toBe(100);
    expect(c.load()).toBe(5);
    expect(f.meta.s.load()).toBe(-1);
    f.drop();
    expect(() => c.load()).toThrow(/Dropped/);
  });
});
