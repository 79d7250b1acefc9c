/**
 * Type-level tests: checked by `tsc --noEmit` (part of `npm test`); the `@ts-expect-error` lines
 * fail the type-check if the error they expect goes away.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  Frame,
  FrameRef,
  Segment,
  UniqueFrame,
  Untyped,
  defineMeta,
  type AnyMeta,
  type AtomicCell,
} from '../src/index.js';
import { makeSystem } from './helpers.js';

const Typed = defineMeta('test.types.typed', { n: 'u32', big: 'i64', ok: 'bool', p: 'paddr', c: 'atomic-u32' });
const Raw = defineMeta('test.types.raw', { len: 'u16' }, { untyped: true });

describe('types', () => {
  it('byte access type-checks only on untyped frames; AnyMeta is checked at run time', () => {
    const sys = makeSystem();
    const t = sys.allocFrame(Typed, { n: 1 });
    const r = sys.allocFrame(Raw, { len: 2 });
    const u = sys.allocFrame();
    expectTypeOf(u).toEqualTypeOf<Frame<Untyped>>();
    expectTypeOf(r.bytes()).toEqualTypeOf<Uint8Array>();
    expectTypeOf(u.bytes()).toEqualTypeOf<Uint8Array>();
    // @ts-expect-error a typed frame has no byte access
    expect(() => t.bytes()).toThrow(/Typed/);
    // @ts-expect-error nor fill
    expect(() => t.fill(0)).toThrow(/Typed/);
    const seg = sys.allocSegment(1, Typed);
    // @ts-expect-error a typed segment has no byte access
    expect(() => seg.bytes()).toThrow(/Typed/);
    seg.drop();
    const dyn: Frame<AnyMeta> = Frame.fromInUse(sys, t.paddr);
    expect(() => dyn.bytes()).toThrow(/Typed/); // compiles: checked at run time
    dyn.drop();
    t.drop();
    r.drop();
    u.drop();
  });

  it('metadata fields have the types of their kinds; shared views are read-only', () => {
    const sys = makeSystem();
    const f = sys.allocFrame(Typed, { n: 1, big: -1n, ok: true, p: null, c: 0 });
    expectTypeOf(f.meta.n).toEqualTypeOf<number>();
    expectTypeOf(f.meta.big).toEqualTypeOf<bigint>();
    expectTypeOf(f.meta.ok).toEqualTypeOf<boolean>();
    expectTypeOf(f.meta.p).toEqualTypeOf<number | null>();
    expectTypeOf(f.meta.c).toEqualTypeOf<AtomicCell>();
    // @ts-expect-error shared metadata is read-only
    expect(() => (f.meta.n = 2)).toThrow(/ReadOnly/);
    // @ts-expect-error an unknown field is a type error
    expect(() => sys.allocFrame(Typed, { m: 1 })).toThrow(/BadValue/);
    // @ts-expect-error a u64 field takes a bigint
    expect(() => sys.allocFrame(Typed, { big: 1 })).toThrow(/BadValue/);
    const u = UniqueFrame.tryFrom(f)!;
    u.metaMut.n = 5;
    // @ts-expect-error atomic fields are changed through their methods only
    expect(() => (u.metaMut.c = 1)).toThrow(/ReadOnly/);
    expectTypeOf(u.intoFrame).returns.toEqualTypeOf<Frame<typeof Typed>>();
    u.drop();
    expectTypeOf<FrameRef<typeof Typed>['meta']['n']>().toEqualTypeOf<number>();
    expectTypeOf<Segment<typeof Typed>[typeof Symbol.iterator]>().returns.toMatchTypeOf<Iterator<Frame<typeof Typed>>>();
  });
});
