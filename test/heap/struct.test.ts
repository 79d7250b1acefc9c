/**
 * defineStruct: the layout (largest field first, `align` the largest field, `size` padded to it),
 * every field kind through a view over an untyped frame's bytes, arrays, bad input, and a struct
 * shared by real workers (plain fields handed over by a message, atomic fields updated at once).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { ContractError, FrameSystem, FrameUseError, MetaTypeError, PAGE_SIZE, StructArray, StructType, defineMeta, defineStruct, type AtomicCell, type FieldKind, type Schema, type StructView } from '../../src/index.js';
import { expectAllFree, expectNoChange, expectThrown, makeSystem } from '../helpers.js';

const KINDS: readonly FieldKind[] = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'f64', 'u64', 'i64', 'bool', 'paddr', 'atomic-u32', 'atomic-i32'];
const SIZE: Record<FieldKind, number> = {
  u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, paddr: 4, 'atomic-u32': 4, 'atomic-i32': 4, f64: 8, u64: 8, i64: 8,
};

/** A value of each kind, drawn over its whole range (floats that f32 holds exactly). */
const valueOf: Record<FieldKind, fc.Arbitrary<unknown>> = {
  u8: fc.integer({ min: 0, max: 0xff }),
  i8: fc.integer({ min: -0x80, max: 0x7f }),
  u16: fc.integer({ min: 0, max: 0xffff }),
  i16: fc.integer({ min: -0x8000, max: 0x7fff }),
  u32: fc.integer({ min: 0, max: 0xffff_ffff }),
  i32: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
  'atomic-u32': fc.integer({ min: 0, max: 0xffff_ffff }),
  'atomic-i32': fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
  f32: fc.float({ noNaN: true }).map((x) => Math.fround(x)),
  f64: fc.double({ noNaN: true }),
  u64: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  i64: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  bool: fc.boolean(),
  paddr: fc.option(fc.integer({ min: 0, max: 1 << 20 }).map((i) => i * PAGE_SIZE)),
};

/** Each kind's zero. */
const ZERO: Record<FieldKind, unknown> = {
  u8: 0, i8: 0, bool: false, u16: 0, i16: 0, u32: 0, i32: 0, f32: 0, paddr: null, 'atomic-u32': 0, 'atomic-i32': 0, f64: 0, u64: 0n, i64: 0n,
};

const isAtomic = (k: FieldKind): boolean => k === 'atomic-u32' || k === 'atomic-i32';

/** Reads field `name` of `view`: a plain value, or an atomic cell's `load()`. */
function read(view: Record<string, unknown>, name: string, kind: FieldKind): unknown {
  return isAtomic(kind) ? (view[name] as { load(): number }).load() : view[name];
}

/** Writes field `name` of `view`: a plain store, or an atomic cell's `store()`. */
function write(view: Record<string, unknown>, name: string, kind: FieldKind, value: unknown): void {
  if (isAtomic(kind)) (view[name] as { store(v: number): number }).store(value as number);
  else view[name] = value;
}

let unique = 0;
/** A struct name no other test uses (definitions are per worker and last for the run). */
const fresh = (what: string): string => `test.struct.${what}.${unique++}`;

describe('defineStruct: layout', () => {
  it('lays fields out largest first, aligns to the largest field and pads the size to it', () => {
    const S = defineStruct('test.struct.layout', { flag: 'bool', big: 'u64', small: 'u16', word: 'u32' });
    expect(S.align).toBe(8);
    expect(S.size).toBe(16); // 8 + 4 + 2 + 1 = 15, padded to 16
    expect(defineStruct('test.struct.bytes', { a: 'u8', b: 'u8', c: 'u8' })).toMatchObject({ size: 3, align: 1 });
    expect(defineStruct('test.struct.halves', { a: 'u16', b: 'u8' })).toMatchObject({ size: 4, align: 2 });
    // Without the 40-byte limit of a metadata slot.
    const wide: Record<string, FieldKind> = {};
    for (let i = 0; i < 100; i++) wide[`f${i}`] = 'f64';
    expect(defineStruct('test.struct.wide', wide).size).toBe(800);
    expect(() => defineMeta('test.struct.wide-meta', wide)).toThrow(expect.objectContaining({ code: 'TooLarge' }));
  });

  it('places each field where its offset says, little-endian, in the bytes of an untyped frame', () => {
    const sys = makeSystem();
    const frame = sys.allocFrame();
    const S = defineStruct('test.struct.bytes-of', { a: 'u32', b: 'u8', c: 'u16', d: 'f64' });
    // Largest first, then by name: d @0 (8), a @8 (4), c @12 (2), b @14 (1); size 16.
    const v = S.at(sys, frame.paddr + 32);
    v.d = 1; // 0x3ff0000000000000
    v.a = 0x01020304;
    v.c = 0xabcd;
    v.b = 0x7f;
    const bytes = frame.bytes().subarray(32, 48);
    expect([...bytes]).toEqual([0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 4, 3, 2, 1, 0xcd, 0xab, 0x7f, 0]);
    expect(v.addr).toBe(frame.paddr + 32);
    bytes.fill(0);
    expect([v.a, v.b, v.c, v.d]).toEqual([0, 0, 0, 0]); // views read memory live
    frame.drop();
    expectAllFree(sys);
    sys.close();
  });

  it('the same name and fields in any order give the same type; other fields, Conflict', () => {
    const S = defineStruct('test.struct.same', { x: 'f32', y: 'f32', tag: 'u8' });
    expect(defineStruct('test.struct.same', { tag: 'u8', y: 'f32', x: 'f32' })).toBe(S);
    expectThrown(() => defineStruct('test.struct.same', { x: 'f64', y: 'f32', tag: 'u8' }), MetaTypeError, 'Conflict');
    // Structs and metadata types are named apart: the same name may be both.
    expect(defineMeta('test.struct.same', { x: 'u8' }).size).toBe(1);
    expect(S).toBeInstanceOf(StructType);
    expect(String(S)).toBe('StructType(test.struct.same)');
  });

  it('property: fields never overlap, each is aligned to its size, all inside size; size is a multiple of align, the least one', () => {
    const schemaArb = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/), fc.constantFrom(...KINDS), { minKeys: 1, maxKeys: 24 });
    fc.assert(
      fc.property(schemaArb, fc.context(), (schema, ctx) => {
        const S = defineStruct(fresh('prop'), schema as Schema);
        const sizes = Object.values(schema).map((k) => SIZE[k]);
        const sum = sizes.reduce((a, b) => a + b, 0);
        expect(S.align).toBe(Math.max(...sizes));
        expect(S.size % S.align).toBe(0);
        expect(S.size).toBeGreaterThanOrEqual(sum);
        expect(S.size - sum).toBeLessThan(S.align);
        // Where each field is: with every byte set, write the field's zero through the view and
        // find the bytes it cleared (an untyped frame's), alone.
        const sys = makeSystem({ frames: 4 });
        const frame = sys.allocFrame();
        const bytes = frame.bytes();
        const view = S.at(sys, frame.paddr) as unknown as Record<string, unknown>;
        const taken = new Uint8Array(S.size);
        for (const [name, kind] of Object.entries(schema)) {
          bytes.fill(0xff);
          write(view, name, kind, ZERO[kind]);
          const hit = [...bytes].flatMap((b, i) => (b === 0 ? [i] : []));
          ctx.log(`${name}: ${kind} at ${hit}`);
          const size = SIZE[kind];
          expect(hit.length).toBe(size);
          const offset = hit[0];
          expect(hit[size - 1]).toBe(offset + size - 1);
          expect(offset % size).toBe(0);
          expect(offset + size).toBeLessThanOrEqual(S.size);
          for (let i = offset; i < offset + size; i++) {
            expect(taken[i], `${name} overlaps another field`).toBe(0);
            taken[i] = 1;
          }
        }
        frame.drop();
        sys.close();
      }),
      { numRuns: 60 },
    );
  });

  it('property: two definitions of the same fields in another order lay them out the same', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z]{1,6}$/), fc.constantFrom(...KINDS)), { minLength: 1, maxLength: 12, selector: ([n]) => n }), (entries) => {
        const name = fresh('order');
        const S = defineStruct(name, Object.fromEntries(entries));
        const T = defineStruct(name, Object.fromEntries([...entries].reverse()));
        expect(T).toBe(S);
      }),
      { numRuns: 40 },
    );
  });
});

describe('defineStruct: fields', () => {
  it('property: every field kind round-trips through a view, and writing one field leaves the others as they were', () => {
    const schema = Object.fromEntries(KINDS.map((k) => [`f_${k.replace('-', '_')}`, k])) as Record<string, FieldKind>;
    const S = defineStruct('test.struct.all-kinds', schema);
    const sys = makeSystem({ frames: 4 });
    const frame = sys.allocFrame();
    const at = frame.paddr + 2 * S.size;
    const view = S.at(sys, at) as unknown as Record<string, unknown>;
    const other = S.at(sys, at) as unknown as Record<string, unknown>; // a second view of the same struct
    const valuesArb = fc.record(Object.fromEntries(Object.entries(schema).map(([n, k]) => [n, valueOf[k]])));
    fc.assert(
      fc.property(valuesArb, (values) => {
        for (const [n, k] of Object.entries(schema)) write(view, n, k, values[n]);
        for (const [n, k] of Object.entries(schema)) {
          const got = read(other, n, k);
          if (Object.is(values[n], -0) && k !== 'f32' && k !== 'f64') expect(got).toBe(0);
          else expect(got).toEqual(values[n]);
        }
      }),
      { numRuns: 200 },
    );
    // Its neighbours in an array are untouched.
    expect([...frame.bytes().subarray(0, 2 * S.size)].every((b) => b === 0)).toBe(true);
    expect([...frame.bytes().subarray(3 * S.size, PAGE_SIZE)].every((b) => b === 0)).toBe(true);
    frame.drop();
    sys.close();
  });

  it('refuses a value that does not fit its field (BadValue) and leaves the field as it was; atomic fields are cells', () => {
    const S = defineStruct('test.struct.bad-values', { n: 'u8', i: 'i16', big: 'u64', ok: 'bool', p: 'paddr', x: 'f32', c: 'atomic-u32' });
    const sys = makeSystem({ frames: 4 });
    const frame = sys.allocFrame();
    const v = S.at(sys, frame.paddr) as unknown as Record<string, unknown>;
    v.n = 7;
    for (const [field, bad] of [['n', 256], ['n', -1], ['n', 1.5], ['n', '7'], ['i', 40000], ['big', 1], ['big', -1n], ['ok', 1], ['p', 100], ['p', -PAGE_SIZE], ['x', '1'], ['x', 1n]] as const) {
      expectThrown(() => (v[field] = bad), FrameUseError, 'BadValue');
    }
    expect(v.n).toBe(7);
    expectThrown(() => (v.c = 1), FrameUseError, 'ReadOnly');
    const c = (S.at(sys, frame.paddr) as unknown as { c: { add(x: number): number; load(): number } }).c;
    c.add(3);
    expect(c.load()).toBe(3);
    expect(JSON.parse(JSON.stringify(v))).toEqual({ big: '0', c: 3, x: 0, p: null, i: 0, n: 7, ok: false });
    frame.drop();
    sys.close();
  });
});

describe('types (checked by tsc)', () => {
  it('fields read as their kinds, plain ones are writable, atomic ones are cells, addr is read-only', () => {
    const S = defineStruct('test.struct.types', { n: 'u32', big: 'i64', ok: 'bool', p: 'paddr', c: 'atomic-u32' });
    const sys = makeSystem({ frames: 4 });
    const frame = sys.allocFrame();
    const v = S.at(sys, frame.paddr);
    expectTypeOf(v).toEqualTypeOf<StructView<{ readonly n: 'u32'; readonly big: 'i64'; readonly ok: 'bool'; readonly p: 'paddr'; readonly c: 'atomic-u32' }>>();
    expectTypeOf(v.n).toEqualTypeOf<number>();
    expectTypeOf(v.big).toEqualTypeOf<bigint>();
    expectTypeOf(v.ok).toEqualTypeOf<boolean>();
    expectTypeOf(v.p).toEqualTypeOf<number | null>();
    expectTypeOf(v.c).toEqualTypeOf<AtomicCell>();
    expectTypeOf(v.addr).toEqualTypeOf<number>();
    v.n = 1;
    v.big = 2n;
    // @ts-expect-error a u32 field takes a number
    expect(() => (v.n = 1n)).toThrow(FrameUseError);
    // @ts-expect-error an atomic field is a cell, not assignable
    expect(() => (v.c = 3)).toThrow(FrameUseError);
    // @ts-expect-error addr is read-only
    expectThrown(() => (v.addr = 8), FrameUseError, 'ReadOnly');
    // @ts-expect-error no such field
    expect(v.nope).toBeUndefined();
    expectTypeOf(S.array(sys, frame.paddr, 2).at(1)).toEqualTypeOf<typeof v>();
    // @ts-expect-error init takes the fields' values (a number for an atomic field)
    expect(() => S.alloc(sys, { c: 1n })).toThrow(FrameUseError);
    frame.drop();
    sys.close();
  });
});

describe('S.array', () => {
  it('lays n structs one size apart, indexes and iterates them', () => {
    const P = defineStruct('test.struct.array', { x: 'f64', tag: 'u8' });
    const sys = makeSystem({ frames: 4 });
    const seg = sys.allocSegment(2);
    const n = (2 * PAGE_SIZE) / P.size;
    const ps = P.array(sys, seg.startPaddr, n);
    expect(ps).toBeInstanceOf(StructArray);
    expect([ps.length, ps.addr, ps.type]).toEqual([n, seg.startPaddr, P]);
    let i = 0;
    for (const p of ps) {
      p.x = i;
      p.tag = i & 0xff;
      i++;
    }
    expect(i).toBe(n);
    const f64 = new Float64Array(seg.bytes().buffer, seg.bytes().byteOffset, (2 * PAGE_SIZE) / 8);
    for (let k = 0; k < n; k++) {
      expect(ps.at(k).addr).toBe(seg.startPaddr + k * P.size);
      expect(f64[(k * P.size) / 8]).toBe(k); // x is the first field of each
      expect(P.at(sys, seg.startPaddr + k * P.size).tag).toBe(k & 0xff);
    }
    expect(P.array(sys, seg.startPaddr, 0).length).toBe(0);
    expect([...P.array(sys, seg.startPaddr, 0)]).toEqual([]);
    for (const bad of [-1, n, 1.5, NaN]) expectThrown(() => ps.at(bad), FrameUseError, 'BadRange');
    expectThrown(() => ps.at('1' as unknown as number), FrameUseError, 'BadValue');
    seg.drop();
    sys.close();
  });
});

describe('bad input', () => {
  const P = defineStruct('test.struct.bad-input', { x: 'f64', n: 'u32' });

  it('refuses a schema as defineMeta does (BadSchema)', () => {
    for (const [name, schema] of [
      ['test.struct.bad.kind', { n: 'u128' }],
      ['test.struct.bad.field', { '1n': 'u32' }],
      ['test.struct.bad.reserved', { toJSON: 'u32' }],
      ['test.struct.bad.addr', { addr: 'u32' }], // a view's own member
      ['test.struct.bad.internal', { _$h: 'u32' }],
      ['test.struct.bad.empty', {}],
      ['', { n: 'u32' }],
      ['x'.repeat(129), { n: 'u32' }],
      [5, { n: 'u32' }],
      ['test.struct.bad.schema', null],
      ['test.struct.bad.schema', 'u32'],
    ] as [string, Schema][]) {
      expectThrown(() => defineStruct(name, schema), MetaTypeError, 'BadSchema');
    }
    // A name refused once is free to define well.
    expect(defineStruct('test.struct.bad.kind', { n: 'u32' }).size).toBe(4);
  });

  it('refuses an address that is misaligned or outside the region (BadRange), or not a number (BadValue); the region is unchanged', () => {
    const sys = makeSystem({ frames: 8 });
    const frame = sys.allocFrame();
    const end = sys.maxPaddr;
    for (const addr of [frame.paddr + 4, frame.paddr + 1, -8, end, end - 8, 1.5, NaN, Infinity, 2 ** 53]) {
      expectNoChange(sys, () => P.at(sys, addr), FrameUseError, 'BadRange');
      expectNoChange(sys, () => P.array(sys, addr, 1), FrameUseError, 'BadRange');
    }
    for (const addr of ['0', null, undefined, 0n, {}]) {
      expectNoChange(sys, () => P.at(sys, addr as unknown as number), FrameUseError, 'BadValue');
    }
    expect(P.at(sys, end - 16).addr).toBe(end - 16); // the last struct that fits
    expectNoChange(sys, () => P.array(sys, end - 32, 3), FrameUseError, 'BadRange');
    expect(P.array(sys, end - 32, 2).length).toBe(2);
    for (const n of [-1, 1.5, NaN]) expectNoChange(sys, () => P.array(sys, 0, n), FrameUseError, 'BadValue');
    expectNoChange(sys, () => P.array(sys, 0, '2' as unknown as number), FrameUseError, 'BadValue');
    frame.drop();
    expectAllFree(sys);
    sys.close();
  });

  it('reaches frames another worker added by a grow; refuses every use once the system is closed', () => {
    const sys = makeSystem({ frames: 8, maxFrames: 64 });
    expectThrown(() => P.at(sys, 32 * PAGE_SIZE), FrameUseError, 'BadRange');
    sys.grow(32);
    const v = P.at(sys, 32 * PAGE_SIZE);
    v.n = 5;
    expect(v.n).toBe(5);
    const arr = P.array(sys, 0, 4);
    sys.close();
    expectThrown(() => v.n, FrameUseError, 'Closed');
    expectThrown(() => (v.n = 1), FrameUseError, 'Closed');
    expectThrown(() => P.at(sys, 0), FrameUseError, 'Closed');
    expectThrown(() => arr.at(0), FrameUseError, 'Closed');
  });
});

describe('S.alloc / S.free (on sys.heap)', () => {
  const Job = defineStruct('test.struct.job', { id: 'u32', weight: 'f64', done: 'atomic-u32', tag: 'u8' });

  it('allocates a block of S.size aligned to S.align, sets the fields init gives and zeroes the others', () => {
    const sys = makeSystem();
    // Leave garbage where the next block will be: a block of the same slot size, dirtied, freed.
    const dirty = sys.heap.alloc(Job.size);
    sys.bytes(dirty, Job.size).fill(0xee);
    sys.heap.free(dirty);
    const job = Job.alloc(sys, { id: 7, tag: 3 });
    expect(job.addr).toBe(dirty); // this worker's cache gives the last slot freed first
    expect(job.addr % Job.align).toBe(0);
    expect(sys.heap.sizeOf(job.addr)).toBeGreaterThanOrEqual(Job.size);
    expect([job.id, job.weight, job.done.load(), job.tag]).toEqual([7, 0, 0, 3]);
    expect(Job.at(sys, job.addr).id).toBe(7); // any view of the address sees it
    const before = sys.heap.stats().blocksInUse;
    Job.free(sys, job);
    expect(sys.heap.stats().blocksInUse).toBe(before - 1);
    sys.heap.trim();
    expectAllFree(sys);
    sys.close();
  });

  it('a bad init is BadValue before anything is allocated; a freed view refuses every use; free checks its view', () => {
    const sys = makeSystem();
    const Other = defineStruct('test.struct.other', { id: 'u32' });
    for (const init of [{ id: -1 }, { id: 1.5 }, { nope: 1 }, { done: 2 ** 32 }, 5, 'x'] as unknown[]) {
      const before = sys.heap.stats();
      expectThrown(() => Job.alloc(sys, init as { id: number }), FrameUseError, 'BadValue');
      expect(sys.heap.stats()).toEqual(before);
    }
    const job = Job.alloc(sys);
    const alias = Job.at(sys, job.addr);
    const inUse = sys.heap.stats().blocksInUse;
    for (const bad of [null, {}, 5, Other.at(sys, job.addr), Job.array(sys, job.addr, 1)] as unknown[]) {
      expectThrown(() => Job.free(sys, bad as typeof job), FrameUseError, 'BadValue');
    }
    const other = makeSystem();
    expectThrown(() => Job.free(other, job), FrameUseError, 'BadValue'); // a view of another system
    other.close();
    expect(sys.heap.stats().blocksInUse).toBe(inUse);
    const cell = job.done;
    expect(job.done).toBe(cell); // one cell per view and field
    Job.free(sys, job);
    expectThrown(() => cell.load(), FrameUseError, 'Dropped'); // a cell taken before checks its view at each call
    expectThrown(() => job.id, FrameUseError, 'Dropped');
    expectThrown(() => (job.id = 1), FrameUseError, 'Dropped');
    expectThrown(() => job.done, FrameUseError, 'Dropped');
    expectThrown(() => Job.free(sys, job), FrameUseError, 'Dropped'); // the view knows it was freed
    expect(sys.heap.stats().blocksInUse).toBe(inUse - 1);
    expect(alias.id).toBe(0); // another view is not told (its block may be someone else's now)
    sys.heap.trim();
    expectAllFree(sys);
    sys.close();
  });

  it('checked mode: freeing a struct twice through two views is the heap\'s ContractError, and changes nothing', () => {
    const sys = makeSystem({ checked: true });
    const job = Job.alloc(sys, { id: 1 });
    const alias = Job.at(sys, job.addr);
    Job.free(sys, job);
    const before = sys.heap.stats();
    expectThrown(() => Job.free(sys, alias), ContractError, 'Contract');
    expect(sys.heap.stats()).toEqual(before);
    sys.heap.trim();
    expectAllFree(sys);
    sys.close();
  });

  it('property: any init round-trips through alloc, and blocks never overlap', () => {
    const schema = Object.fromEntries(KINDS.map((k) => [`f_${k.replace('-', '_')}`, k])) as Record<string, FieldKind>;
    const All = defineStruct('test.struct.heap-all-kinds', schema);
    const sys = makeSystem();
    const initArb = fc.record(Object.fromEntries(Object.entries(schema).map(([n, k]) => [n, valueOf[k]])), { requiredKeys: [] });
    fc.assert(
      fc.property(fc.array(initArb, { minLength: 1, maxLength: 20 }), (inits) => {
        const views = inits.map((init) => All.alloc(sys, init as never));
        const addrs = views.map((v) => v.addr).sort((a, b) => a - b);
        for (let i = 1; i < addrs.length; i++) expect(addrs[i] - addrs[i - 1]).toBeGreaterThanOrEqual(All.size);
        views.forEach((v, i) => {
          for (const [n, k] of Object.entries(schema)) {
            const want = (inits[i] as Record<string, unknown>)[n] ?? ZERO[k];
            const got = read(v as unknown as Record<string, unknown>, n, k);
            if (Object.is(want, -0) && k !== 'f32' && k !== 'f64') expect(got).toBe(0);
            else expect(got).toEqual(want);
          }
        });
        for (const v of views) All.free(sys, v);
      }),
      { numRuns: 50 },
    );
    sys.heap.trim();
    expectAllFree(sys);
    sys.close();
  });
});

// --- Real workers ----------------------------------------------------------------------------

const DIST = new URL('../../dist/index.js', import.meta.url).href;

/**
 * The worker: attaches, defines the same struct, and then, by role: 'read' answers with the
 * plain fields of the struct at `addr` (written by the main thread before it posted the
 * address) and writes its own answer into `reply`; 'count' adds 1 to `hits` of each of `n`
 * structs from `addr`, `rounds` times, after the start signal, also bumping its own plain field
 * `mine[role index]` by a compare-exchange loop on an atomic cell of its own. Inline (a data: URL
 * module), running the built package.
 */
const STRUCT_WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
import { FrameSystem, defineStruct } from ${JSON.stringify(DIST)};
const { handle, role, addr, n, rounds, go } = workerData;
const sys = FrameSystem.attach(handle);
const Rec = defineStruct('test.struct.shared', { id: 'u32', score: 'f64', big: 'i64', ok: 'bool', hits: 'atomic-u32', last: 'atomic-i32' });
let result;
try {
  if (role === 'alloc') {
    const r = Rec.alloc(sys, { id: 9, score: 0.75, big: 1n << 50n, ok: true });
    r.hits.add(3);
    result = { addr: r.addr };
  } else if (role === 'read') {
    const r = Rec.at(sys, addr);
    result = { id: r.id, score: r.score, big: String(r.big), ok: r.ok, hits: r.hits.load() };
    const reply = Rec.at(sys, addr + Rec.size);
    reply.id = r.id + 1;
    reply.score = r.score * 2;
    reply.big = r.big - 1n;
    reply.ok = !r.ok;
    reply.hits.store(1); // ORDER: the plain fields above happen before this store
  } else {
    const signal = new Int32Array(go);
    while (Atomics.load(signal, 0) === 0) Atomics.wait(signal, 0, 0, 10);
    const recs = Rec.array(sys, addr, n);
    const me = workerData.index;
    for (let k = 0; k < rounds; k++) {
      for (const r of recs) {
        r.hits.add(1);
        r.last.store(me);
      }
    }
    result = { done: rounds * n };
  }
} catch (e) {
  result = { error: String((e && e.stack) || e) };
}
sys.close();
parentPort.postMessage(result);
`;

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

describe('a struct shared by workers', () => {
  const Rec = defineStruct('test.struct.shared', { id: 'u32', score: 'f64', big: 'i64', ok: 'bool', hits: 'atomic-u32', last: 'atomic-i32' });
  const url = new URL(`data:text/javascript,${encodeURIComponent(STRUCT_WORKER)}`);
  const spawn = (workerData: object): { w: Worker; exited: Promise<unknown[]> } => {
    const w = new Worker(url, { workerData });
    const exited = once(w, 'exit');
    workers.push(w);
    return { w, exited };
  };

  it('plain fields written in one worker are read in another once it has the address; its reply comes back through an atomic field', async () => {
    const sys = FrameSystem.create({ frames: 16 });
    const frame = sys.allocFrame();
    const r = Rec.at(sys, frame.paddr + Rec.size * 3);
    r.id = 41;
    r.score = 2.5;
    r.big = -(1n << 40n);
    r.ok = true;
    const { w, exited } = spawn({ handle: sys.handle, role: 'read', addr: r.addr });
    const [answer] = (await once(w, 'message')) as [Record<string, unknown>];
    await exited;
    expect(answer).toEqual({ id: 41, score: 2.5, big: String(-(1n << 40n)), ok: true, hits: 0 });
    const reply = Rec.at(sys, r.addr + Rec.size);
    expect(reply.hits.load()).toBe(1);
    expect([reply.id, reply.score, reply.big, reply.ok]).toEqual([42, 5, -(1n << 40n) - 1n, false]);
    frame.drop();
    expectAllFree(sys);
    sys.close();
  });

  it('a struct allocated on the heap in one worker is read and freed in another', async () => {
    const sys = FrameSystem.create({ frames: 16 });
    const { w, exited } = spawn({ handle: sys.handle, role: 'alloc' });
    const [answer] = (await once(w, 'message')) as [{ addr: number }];
    await exited; // it closed its view of the region: its cached heap slots went back
    const r = Rec.at(sys, answer.addr);
    expect([r.id, r.score, r.big, r.ok, r.hits.load(), r.last.load()]).toEqual([9, 0.75, 1n << 50n, true, 3, 0]);
    expect(sys.heap.stats().blocksInUse).toBe(1);
    Rec.free(sys, r);
    expect(sys.heap.stats().blocksInUse).toBe(0);
    sys.heap.trim();
    expectAllFree(sys);
    sys.close();
  });

  it('atomic fields of an array of structs, updated by two workers at once: no update is lost', async () => {
    const sys = FrameSystem.create({ frames: 16 });
    const seg = sys.allocSegment(2);
    const N = 100;
    const ROUNDS = 2000;
    const recs = Rec.array(sys, seg.startPaddr, N);
    const go = new SharedArrayBuffer(4);
    const a = spawn({ handle: sys.handle, role: 'count', index: 1, addr: recs.addr, n: N, rounds: ROUNDS, go });
    const b = spawn({ handle: sys.handle, role: 'count', index: 2, addr: recs.addr, n: N, rounds: ROUNDS, go });
    const answers = Promise.all([once(a.w, 'message'), once(b.w, 'message')]);
    const signal = new Int32Array(go);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
    expect((await answers).map(([m]) => m)).toEqual([{ done: ROUNDS * N }, { done: ROUNDS * N }]);
    await Promise.all([a.exited, b.exited]);
    for (const r of recs) {
      expect(r.hits.load()).toBe(2 * ROUNDS);
      expect([1, 2]).toContain(r.last.load());
      expect([r.id, r.score, r.big, r.ok]).toEqual([0, 0, 0n, false]); // plain fields untouched
    }
    // After the array: nothing written.
    expect([...seg.bytes().subarray(N * Rec.size)].every((x) => x === 0)).toBe(true);
    seg.drop();
    expectAllFree(sys);
    sys.close();
  }, 30_000);
});
