/**
 * Model-based test of the frame handles (fast-check `commands` + `modelRun`).
 *
 * Random sequences of operations run against a real `FrameSystem` and against a plain reference
 * model: per frame its state (unused / shared / unique), count, metadata type, metadata value,
 * forgotten references (`intoRaw`) and contents, plus the list of live and consumed handles.
 * After every step the real region must agree with the model: every slot's count word, metadata
 * value and (checked mode) forgotten count, sampled frame bytes, `sys.stats()`, every live
 * handle's `referenceCount` / `meta`, the `onDrop` calls, and `sys.checkInvariants()`. Failing
 * operations must throw the predicted error and leave the region unchanged (`expectNoChange`).
 * At the end of each run every forgotten reference is restored and every handle dropped, and
 * every frame must be free again.
 *
 * The default allocator is a buddy allocator: the model never predicts addresses. It reads them
 * from the result and checks that the frames handed out were free. It does predict whether an
 * allocation succeeds: `NoMemory` exactly when no run of that many adjacent frames is free (the
 * buddy allocator falls back to runs across chunks, so NoMemory means memory is exhausted).
 *
 * Environment: PAGEFRAME_MODEL_RUNS, runs per mode (default 200); PAGEFRAME_MODEL_SEED and
 * PAGEFRAME_MODEL_PATH replay a failure (the seed and path fast-check reports);
 * PAGEFRAME_MODEL_STATS=1 prints how often each command and branch ran.
 */
import fc, { type Command } from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AllocError,
  ContractError,
  Frame,
  FrameAllocOptions,
  FrameRef,
  FrameSystem,
  FrameUseError,
  GetFrameError,
  META_SLOT_SIZE,
  PAGE_SIZE,
  REF_COUNT_UNIQUE,
  Segment,
  UniqueFrame,
  Untyped,
  defineMeta,
  type AnyMeta,
  type GetFrameErrorCode,
} from '../src/index.js';
import { computeLayout } from '../src/region/geometry.js';
import { isCachedHead } from '../src/region/meta.js';
import { MockMeta, MockUMeta, expectNoChange, firstDifference, snapshot } from './helpers.js';

const RUNS = Math.max(1, Number(process.env.PAGEFRAME_MODEL_RUNS ?? '') || 200);
const MAX_COMMANDS = 60;
/** Region sizes for the unchecked runs (non powers of two on purpose: buddy edges). */
const UNCHECKED_SIZES = [16, 23, 32, 48, 64] as const;
const CHECKED_SIZE = 32;

// Slot layout (src/region/meta.ts): word 0 is the count (-1 UNUSED, -2 UNIQUE, n shared), word 5 the
// forgotten-reference count of a held slot in checked mode, words 6.. the metadata storage (the
// `value: u32` field of the types below is the first storage word).
const SLOT_WORDS = META_SLOT_SIZE / 4;
const WORD_AUX = 5;
const WORD_STORAGE = 6;
/** Bytes of each frame compared against the model's content byte after every step. */
const SAMPLE_OFFSETS = [0, 1237, PAGE_SIZE - 1];

// ---------------------------------------------------------------------------------------------
// Metadata types
// ---------------------------------------------------------------------------------------------

interface DropEvent {
  readonly paddr: number;
  readonly value: number;
  /** The frame's `referenceCount` as onDrop sees it: 0 (busy) on a last drop, UNIQUE in repurpose. */
  readonly rc: number;
  /** What `Frame.fromInUse` says during onDrop ('Busy' on a last drop: the one way to see it here). */
  readonly inUse: string;
  /** What `frame.clone()` of onDrop's reference says. */
  readonly clone: string;
}
/** What `DropMeta`'s onDrop saw, in order; compared with the model after every step. */
const dropLog: DropEvent[] = [];
/** The system of the current run (onDrop calls `Frame.fromInUse` on it). */
let currentSys: FrameSystem | undefined;

function errorCode(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

const DropMeta = defineMeta(
  'test.model.OnDropMeta',
  { value: 'u32' },
  {
    onDrop: (meta, frame) => {
      hit(frame.referenceCount === 0 ? 'onDrop last drop' : 'onDrop repurpose');
      dropLog.push({
        paddr: frame.paddr,
        value: meta.value,
        rc: frame.referenceCount,
        inUse: errorCode(() => Frame.fromInUse(currentSys!, frame.paddr)),
        clone: errorCode(() => frame.clone()),
      });
    },
  },
);

interface TypeInfo {
  readonly meta: AnyMeta;
  /** Has the `value: u32` field. */
  readonly hasValue: boolean;
  readonly untyped: boolean;
  readonly onDrop: boolean;
}
const TYPES: readonly TypeInfo[] = [
  { meta: Untyped, hasValue: false, untyped: true, onDrop: false },
  { meta: MockMeta, hasValue: true, untyped: false, onDrop: false },
  { meta: MockUMeta, hasValue: true, untyped: true, onDrop: false },
  { meta: DropMeta, hasValue: true, untyped: false, onDrop: true },
];

// ---------------------------------------------------------------------------------------------
// Model and real system
// ---------------------------------------------------------------------------------------------

type SlotState = 'unused' | 'shared' | 'unique';
interface MSlot {
  state: SlotState;
  /** Shared references (handles + forgotten); 0 unless shared. */
  count: number;
  /** Index in TYPES, -1 when unused. */
  type: number;
  /** References forgotten with intoRaw and not yet restored. */
  forgotten: number;
  /** The `value` field (0 for types without it, and when unused). */
  value: number;
  /** Every byte of the frame (frames are only ever filled whole). */
  content: number;
}
type Kind = 'frame' | 'unique' | 'segment';
interface MHandle {
  readonly id: number;
  readonly kind: Kind;
  /** First frame index. */
  readonly start: number;
  /** Frames (1 for frame and unique handles; a segment may be empty). */
  readonly n: number;
  readonly type: number;
  /** A segment restored by fromRaw without a type: byte access checks every frame's type. */
  readonly mixed: boolean;
}
interface MRef {
  readonly id: number;
  /** The handle it borrows: valid while that handle is live. */
  readonly owner: number;
  readonly index: number;
  readonly type: number;
}
interface MRaw {
  readonly kind: Kind;
  readonly start: number;
  readonly n: number;
  readonly type: number;
}
interface Model {
  readonly nframes: number;
  readonly checked: boolean;
  readonly slots: MSlot[];
  live: MHandle[];
  dead: MHandle[];
  refs: MRef[];
  raws: MRaw[];
  nextId: number;
  /** onDrop calls expected since the last check. */
  drops: DropEvent[];
}

type Handle = Frame<AnyMeta> | UniqueFrame<AnyMeta> | Segment<AnyMeta>;
interface Real {
  readonly sys: FrameSystem;
  /** Every handle ever made in this run, live or not, by model id. */
  readonly objs: Map<number, Handle>;
  readonly refs: Map<number, FrameRef<AnyMeta>>;
}

function setup(nframes: number, checked: boolean, sab: boolean): { model: Model; real: Real } {
  dropLog.length = 0;
  // By default the region lives in a shared WebAssembly.Memory (WebAssembly atomics); on a
  // SharedArrayBuffer pageframe uses JS Atomics: the model checks both.
  const memory = sab ? new SharedArrayBuffer(computeLayout(nframes, 0).totalBytes) : undefined;
  const sys = FrameSystem.create({ frames: nframes, checked, memory });
  expect(sys._region.at.kind).toBe(sab ? 'js' : 'wasm');
  currentSys = sys;
  const slots: MSlot[] = [];
  for (let i = 0; i < nframes; i++) {
    slots.push({ state: 'unused', count: 0, type: -1, forgotten: 0, value: 0, content: 0 });
  }
  const model: Model = { nframes, checked, slots, live: [], dead: [], refs: [], raws: [], nextId: 1, drops: [] };
  const real: Real = { sys, objs: new Map(), refs: new Map() };
  verify(model, real);
  return { model, real };
}

const paddrOf = (index: number): number => index * PAGE_SIZE;

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length];
}

function liveOf(m: Model, kind: Kind, pred: (h: MHandle) => boolean = () => true): MHandle[] {
  return m.live.filter((h) => h.kind === kind && pred(h));
}

function freeCount(m: Model): number {
  return m.slots.filter((s) => s.state === 'unused').length;
}

/** Whether `n` adjacent frames are free: exactly when an allocation of `n` frames must succeed. */
function contiguousFreeRun(m: Model, n: number): boolean {
  let run = 0;
  for (const s of m.slots) {
    run = s.state === 'unused' ? run + 1 : 0;
    if (run >= n) return true;
  }
  return false;
}

/** Whether a free block of the next power of two >= n, aligned to its size, exists (coverage). */
function alignedFreeBlock(m: Model, n: number): boolean {
  let size = 1;
  while (size < n) size *= 2;
  for (let i = 0; i + size <= m.nframes; i += size) {
    if (m.slots.slice(i, i + size).every((s) => s.state === 'unused')) return true;
  }
  return false;
}

function addHandle(
  m: Model,
  r: Real,
  obj: Handle,
  kind: Kind,
  start: number,
  n: number,
  type: number,
  mixed = false,
): MHandle {
  const h: MHandle = { id: m.nextId++, kind, start, n, type, mixed };
  m.live.push(h);
  r.objs.set(h.id, obj);
  return h;
}

function consume(m: Model, h: MHandle): void {
  m.live = m.live.filter((x) => x.id !== h.id);
  m.dead.push(h);
}

function acquire(m: Model, index: number): void {
  const s = m.slots[index];
  if (s.state !== 'shared') throw new Error(`model: acquire of frame ${index} in state ${s.state}`);
  s.count++;
}

/** Drops one reference (a shared count, or the unique holder); the last one frees the frame. */
function release(m: Model, index: number): void {
  const s = m.slots[index];
  if (s.state === 'unused') throw new Error(`model: release of unused frame ${index}`);
  if (s.state === 'unique' || --s.count === 0) {
    if (TYPES[s.type].onDrop) {
      m.drops.push({ paddr: paddrOf(index), value: s.value, rc: 0, inUse: 'Busy', clone: 'Dropped' });
    }
    s.state = 'unused';
    s.count = 0;
    s.type = -1;
    s.forgotten = 0;
    s.value = 0;
  }
}

/** The `n`-th held (shared or unique) frame, modulo their number; any frame if none is held. */
function heldIndex(m: Readonly<Model>, n: number): number {
  const held: number[] = [];
  m.slots.forEach((s, i) => {
    if (s.state !== 'unused') held.push(i);
  });
  return held.length > 0 ? pick(held, n) : n % m.nframes;
}

/** The `n`-th frame with a forgotten reference, modulo their number; any frame if none. */
function forgottenIndex(m: Readonly<Model>, n: number): number {
  const forgotten: number[] = [];
  m.slots.forEach((s, i) => {
    if (s.forgotten > 0) forgotten.push(i);
  });
  return forgotten.length > 0 ? pick(forgotten, n) : n % m.nframes;
}

/** Checks that `n` frames from `paddr` were handed out free; returns the first index. */
function expectFree(m: Model, paddr: number, n: number): number {
  expect(paddr % PAGE_SIZE, 'allocation not page-aligned').toBe(0);
  const index = paddr / PAGE_SIZE;
  expect(index >= 0 && index + n <= m.nframes, `allocation ${index}+${n} outside the region`).toBe(true);
  for (let k = index; k < index + n; k++) {
    expect(m.slots[k].state, `frame ${k} handed out while ${m.slots[k].state}`).toBe('unused');
  }
  return index;
}

/** Checks every byte of frames `[index, index + n)` against the model (after an allocation). */
function expectContents(m: Model, r: Real, index: number, n: number): void {
  const u8 = r.sys._region.mem.u8;
  for (let k = index; k < index + n; k++) {
    const at = r.sys._region.frameByte + paddrOf(k);
    const want = m.slots[k].content;
    let bad = -1;
    for (let b = 0; b < PAGE_SIZE && bad < 0; b++) if (u8[at + b] !== want) bad = b;
    expect(bad, `frame ${k}: byte ${bad} is not ${want}`).toBe(-1);
  }
}

function frameOf(r: Real, h: MHandle): Frame<AnyMeta> {
  const o = r.objs.get(h.id);
  if (!(o instanceof Frame)) throw new Error(`handle ${h.id} is not a Frame`);
  return o;
}
function uniqueOf(r: Real, h: MHandle): UniqueFrame<AnyMeta> {
  const o = r.objs.get(h.id);
  if (!(o instanceof UniqueFrame)) throw new Error(`handle ${h.id} is not a UniqueFrame`);
  return o;
}
function segmentOf(r: Real, h: MHandle): Segment<AnyMeta> {
  const o = r.objs.get(h.id);
  if (!(o instanceof Segment)) throw new Error(`handle ${h.id} is not a Segment`);
  return o;
}

/** Runs `fn`, which must not throw, and checks that the header and slots did not change. */
function expectUnchanged<T>(sys: FrameSystem, fn: () => T): T {
  const before = snapshot(sys);
  const value = fn();
  expect(firstDifference(before, snapshot(sys)), 'the region changed').toBe(-1);
  return value;
}

/** The metadata value a handle reads, through its view. */
function valueOf(meta: unknown): unknown {
  return (meta as { value?: unknown }).value;
}

const byDrop = (a: DropEvent, b: DropEvent): number => a.paddr - b.paddr || a.value - b.value || a.rc - b.rc;

/** Compares the whole real region with the model. */
function verify(m: Model, r: Real): void {
  const sys = r.sys;
  const { i32, u32, u8 } = sys._region.mem;
  const exp = { rc: [] as number[], value: [] as number[], forgotten: [] as number[], content: [] as number[] };
  const obs = { rc: [] as number[], value: [] as number[], forgotten: [] as number[], content: [] as number[] };
  let free = 0;
  let shared = 0;
  let unique = 0;
  const byType: Record<string, number> = {};
  for (let i = 0; i < m.nframes; i++) {
    const s = m.slots[i];
    const w = sys._region.metaWord + i * SLOT_WORDS;
    const rc = Atomics.load(i32, w);
    obs.rc.push(isCachedHead(rc) ? -1 : rc); // a cached run's head is unused to the model
    exp.rc.push(s.state === 'unused' ? -1 : s.state === 'unique' ? -2 : s.count);
    if (s.state === 'unused') {
      free++;
    } else {
      if (s.state === 'unique') unique++;
      else shared++;
      const name = TYPES[s.type].meta.name;
      byType[name] = (byType[name] ?? 0) + 1;
    }
    obs.value.push(u32[w + WORD_STORAGE]);
    exp.value.push(s.state !== 'unused' && TYPES[s.type].hasValue ? s.value : 0);
    if (m.checked) {
      obs.forgotten.push(s.state === 'unused' ? 0 : i32[w + WORD_AUX]);
      exp.forgotten.push(s.forgotten);
    }
    const base = sys._region.frameByte + paddrOf(i);
    for (const off of SAMPLE_OFFSETS) {
      obs.content.push(u8[base + off]);
      exp.content.push(s.content);
    }
  }
  const handlesObs: unknown[] = [];
  const handlesExp: unknown[] = [];
  for (const h of m.live) {
    const o = r.objs.get(h.id);
    const T = TYPES[h.type];
    if (o instanceof Segment) {
      handlesObs.push([h.id, o.startPaddr, o.endPaddr, o.nframes]);
      handlesExp.push([h.id, paddrOf(h.start), paddrOf(h.start + h.n), h.n]);
    } else if (o instanceof UniqueFrame) {
      handlesObs.push([h.id, o.paddr, o.referenceCount, T.hasValue ? valueOf(o.meta) : null]);
      handlesExp.push([h.id, paddrOf(h.start), REF_COUNT_UNIQUE, T.hasValue ? m.slots[h.start].value : null]);
    } else if (o instanceof Frame) {
      handlesObs.push([h.id, o.paddr, o.referenceCount, T.hasValue ? valueOf(o.meta) : null]);
      handlesExp.push([h.id, paddrOf(h.start), m.slots[h.start].count, T.hasValue ? m.slots[h.start].value : null]);
    } else {
      throw new Error(`no real handle for model handle ${h.id}`);
    }
  }
  expect({ ...obs, handles: handlesObs, stats: sys.stats(), drops: [...dropLog].sort(byDrop) }).toEqual({
    ...exp,
    handles: handlesExp,
    stats: { total: m.nframes, free, used: m.nframes - free, shared, unique, busy: 0, raw: 0, byType },
    drops: [...m.drops].sort(byDrop),
  });
  dropLog.length = 0;
  m.drops = [];
  sys.checkInvariants();
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/** How often each command and branch ran in the current mode (PAGEFRAME_MODEL_STATS=1 prints it). */
const coverage = new Map<string, number>();
function hit(label: string): void {
  coverage.set(label, (coverage.get(label) ?? 0) + 1);
}

abstract class Cmd implements Command<Model, Real> {
  abstract check(m: Readonly<Model>): boolean;
  protected abstract exec(m: Model, r: Real): void;
  abstract toString(): string;
  run(m: Model, r: Real): void {
    hit(this.constructor.name);
    this.exec(m, r);
    verify(m, r);
  }
}

/** sys.allocFrame / FrameAllocOptions.allocFrame(With) / allocUnique. */
class AllocFrameCmd extends Cmd {
  constructor(
    readonly type: number,
    readonly via: 'sys' | 'options',
    readonly zeroed: boolean,
    readonly value: number,
    readonly unique: boolean,
    /** For untyped frames: fill with this byte after allocation (dirty frames for zeroing checks). */
    readonly dirty: number | null = null,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected exec(m: Model, r: Real): void {
    const T = TYPES[this.type];
    const init = T.hasValue ? { value: this.value } : undefined;
    const zeroes = this.unique || this.via === 'options' ? this.zeroed : true;
    const call = (): Frame<AnyMeta> | UniqueFrame<AnyMeta> => {
      const options = new FrameAllocOptions(r.sys).zeroed(this.zeroed);
      if (this.unique) return options.allocUnique(T.meta, init);
      if (this.via === 'sys') return T.meta === Untyped ? r.sys.allocFrame() : r.sys.allocFrame(T.meta, init);
      return T.meta === Untyped ? options.allocFrame() : options.allocFrameWith(T.meta, init);
    };
    if (freeCount(m) === 0) {
      hit('allocFrame NoMemory');
      expectNoChange(r.sys, call, AllocError, 'NoMemory');
      return;
    }
    const f = call();
    const index = expectFree(m, f.paddr, 1);
    expect(f.metaType).toBe(T.meta);
    const s = m.slots[index];
    s.state = this.unique ? 'unique' : 'shared';
    s.count = this.unique ? 0 : 1;
    s.type = this.type;
    s.value = T.hasValue ? this.value : 0;
    if (zeroes) s.content = 0;
    expectContents(m, r, index, 1);
    addHandle(m, r, f, this.unique ? 'unique' : 'frame', index, 1, this.type);
    if (T.untyped && this.dirty !== null) {
      fillOf(f, this.dirty);
      s.content = this.dirty;
    }
  }
  toString(): string {
    const what = this.unique ? 'allocUnique' : this.via === 'sys' ? 'sys.allocFrame' : 'allocFrameWith';
    const dirty = this.dirty !== null && TYPES[this.type].untyped ? `.fill(${this.dirty})` : '';
    return `${what}(${TYPES[this.type].meta.name}, ${this.value}, zeroed=${this.zeroed})${dirty}`;
  }
}

/**
 * When few frames are left: allocates frames until none is free, then every allocation is
 * `NoMemory` and changes nothing.
 */
class ExhaustCmd extends Cmd {
  constructor(readonly value: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return freeCount(m) <= 8;
  }
  protected exec(m: Model, r: Real): void {
    while (freeCount(m) > 0) new AllocFrameCmd(1, 'sys', true, this.value, false).run(m, r);
    hit('exhausted');
    const options = new FrameAllocOptions(r.sys);
    expectNoChange(r.sys, () => r.sys.allocFrame(), AllocError, 'NoMemory');
    expectNoChange(r.sys, () => options.allocUnique(DropMeta, { value: 1 }), AllocError, 'NoMemory');
    expectNoChange(r.sys, () => options.zeroed(false).allocSegment(1), AllocError, 'NoMemory');
  }
  toString(): string {
    return `exhaust(${this.value})`;
  }
}

/** The metadata value `allocSegmentWith`'s init gives frame `paddr`. */
const segValue = (base: number, paddr: number): number => (base + (paddr / PAGE_SIZE) * 7919) % 2 ** 32;

/** sys.allocSegment / FrameAllocOptions.allocSegment(With), including bad counts. */
class AllocSegmentCmd extends Cmd {
  constructor(
    readonly n: number,
    readonly type: number,
    readonly via: 'sys' | 'options',
    readonly zeroed: boolean,
    readonly base: number,
    /** For untyped segments: fill with this byte after allocation. */
    readonly dirty: number | null = null,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected exec(m: Model, r: Real): void {
    const { n, base } = this;
    const T = TYPES[this.type];
    const init = T.hasValue ? (p: number) => ({ value: segValue(base, p) }) : undefined;
    const zeroes = this.via === 'sys' ? true : this.zeroed;
    const call = (): Segment<AnyMeta> => {
      if (this.via === 'sys') return T.meta === Untyped ? r.sys.allocSegment(n) : r.sys.allocSegment(n, T.meta, init);
      const options = new FrameAllocOptions(r.sys).zeroed(this.zeroed);
      return T.meta === Untyped ? options.allocSegment(n) : options.allocSegmentWith(n, T.meta, init);
    };
    if (!(Number.isInteger(n) && n > 0)) {
      hit('allocSeg InvalidArgs');
      expectNoChange(r.sys, call, AllocError, 'InvalidArgs');
      return;
    }
    if (!contiguousFreeRun(m, n)) {
      hit(n > freeCount(m) ? 'allocSeg NoMemory n>free' : 'allocSeg NoMemory fragmented');
      expectNoChange(r.sys, call, AllocError, 'NoMemory');
      return;
    }
    hit(alignedFreeBlock(m, n) ? 'allocSeg ok' : 'allocSeg ok unaligned');
    const seg = call();
    expect(seg.nframes).toBe(n);
    expect(seg.size).toBe(n * PAGE_SIZE);
    expect(seg.endPaddr).toBe(seg.startPaddr + n * PAGE_SIZE);
    expect(seg.metaType).toBe(T.meta);
    const index = expectFree(m, seg.startPaddr, n);
    for (let k = index; k < index + n; k++) {
      const s = m.slots[k];
      s.state = 'shared';
      s.count = 1;
      s.type = this.type;
      s.value = T.hasValue ? segValue(base, paddrOf(k)) : 0;
      if (zeroes) s.content = 0;
    }
    expectContents(m, r, index, n);
    addHandle(m, r, seg, 'segment', index, n, this.type);
    if (T.untyped && this.dirty !== null) {
      fillOf(seg, this.dirty);
      for (let k = index; k < index + n; k++) m.slots[k].content = this.dirty;
    }
  }
  toString(): string {
    const what = this.via === 'sys' ? 'sys.allocSegment' : 'allocSegmentWith';
    const dirty = this.dirty !== null && TYPES[this.type].untyped ? `.fill(${this.dirty})` : '';
    return `${what}(${this.n}, ${TYPES[this.type].meta.name}, zeroed=${this.zeroed})${dirty}`;
  }
}

/** frame.clone() or frame.borrow().clone() (the borrow is kept for RefCmd). */
class CloneCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly viaBorrow: boolean,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'frame').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'frame'), this.pick);
    const f = frameOf(r, h);
    let c: Frame<AnyMeta>;
    if (this.viaBorrow) {
      const ref = expectUnchanged(r.sys, () => f.borrow());
      expect(ref.paddr).toBe(f.paddr);
      expect(ref.referenceCount).toBe(m.slots[h.start].count);
      const id = m.nextId++;
      m.refs.push({ id, owner: h.id, index: h.start, type: h.type });
      r.refs.set(id, ref);
      c = ref.clone();
    } else {
      c = f.clone();
    }
    expect(c.paddr).toBe(f.paddr);
    expect(c.metaType).toBe(f.metaType);
    acquire(m, h.start);
    addHandle(m, r, c, 'frame', h.start, 1, h.type);
  }
  toString(): string {
    return this.viaBorrow ? `frame[${this.pick}].borrow().clone()` : `frame[${this.pick}].clone()`;
  }
}

/** Uses a kept FrameRef: valid while its frame handle lives, 'Dropped' after. */
class RefCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly clone: boolean,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.refs.length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const mref = pick(m.refs, this.pick);
    const ref = r.refs.get(mref.id)!;
    expect(ref.paddr).toBe(paddrOf(mref.index));
    const alive = m.live.some((h) => h.id === mref.owner);
    hit(alive ? 'ref live' : 'ref dead');
    if (!alive) {
      expectNoChange(r.sys, () => (this.clone ? ref.clone() : ref.referenceCount), FrameUseError, 'Dropped');
      expectNoChange(r.sys, () => ref.meta, FrameUseError, 'Dropped');
      return;
    }
    const s = m.slots[mref.index];
    expect(ref.referenceCount).toBe(s.count);
    if (TYPES[mref.type].hasValue) expect(valueOf(ref.meta)).toBe(s.value);
    if (this.clone) {
      const c = ref.clone();
      acquire(m, mref.index);
      addHandle(m, r, c, 'frame', mref.index, 1, mref.type);
    }
  }
  toString(): string {
    return `ref[${this.pick}].${this.clone ? 'clone()' : 'read'}`;
  }
}

/** drop() or [Symbol.dispose]() of any live handle. */
class DropCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly dispose: boolean,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.live.length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(m.live, this.pick);
    const o = r.objs.get(h.id)!;
    if (this.dispose) o[Symbol.dispose]();
    else o.drop();
    consume(m, h);
    for (let k = h.start; k < h.start + h.n; k++) release(m, k);
  }
  toString(): string {
    return `live[${this.pick}].${this.dispose ? '[Symbol.dispose]()' : 'drop()'}`;
  }
}

/** intoRaw() of any live handle: the references stay, forgotten. */
class IntoRawCmd extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.live.length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(m.live, this.pick);
    const o = r.objs.get(h.id)!;
    if (o instanceof Segment) {
      expect(o.intoRaw()).toEqual({ start: paddrOf(h.start), end: paddrOf(h.start + h.n) });
    } else {
      expect(o.intoRaw()).toBe(paddrOf(h.start));
    }
    consume(m, h);
    m.raws.push({ kind: h.kind, start: h.start, n: h.n, type: h.type });
    for (let k = h.start; k < h.start + h.n; k++) m.slots[k].forgotten++;
  }
  toString(): string {
    return `live[${this.pick}].intoRaw()`;
  }
}

/** Frame.fromRaw / UniqueFrame.fromRaw / Segment.fromRaw of a forgotten handle. */
class FromRawCmd extends Cmd {
  constructor(
    readonly pick: number,
    /** 0: no meta (frames, segments), 1: the right meta, 2: another type ('WrongType'). */
    readonly metaMode: 0 | 1 | 2,
    readonly wrongOffset: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.raws.length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const sys = r.sys;
    const i = this.pick % m.raws.length;
    const raw = m.raws[i];
    const T = TYPES[raw.type];
    const wrongType = (raw.type + 1 + (this.wrongOffset % (TYPES.length - 1))) % TYPES.length;
    const p = paddrOf(raw.start);
    const range = { start: p, end: paddrOf(raw.start + raw.n) };
    if (this.metaMode === 2 && raw.n > 0) {
      const W = TYPES[wrongType].meta;
      const call =
        raw.kind === 'frame'
          ? () => Frame.fromRaw(sys, p, W)
          : raw.kind === 'unique'
            ? () => UniqueFrame.fromRaw(sys, p, W)
            : () => Segment.fromRaw(sys, range, W);
      hit('fromRaw wrong ' + raw.kind);
      expectNoChange(sys, call, FrameUseError, 'WrongType');
      return;
    }
    const meta = this.metaMode === 0 ? undefined : this.metaMode === 1 ? T.meta : TYPES[wrongType].meta;
    let obj: Handle;
    let type = raw.type;
    if (raw.kind === 'frame') {
      obj = Frame.fromRaw(sys, p, meta);
      expect(obj.metaType).toBe(T.meta);
    } else if (raw.kind === 'unique') {
      obj = UniqueFrame.fromRaw(sys, p, meta ?? T.meta);
      expect(obj.metaType).toBe(T.meta);
    } else {
      obj = Segment.fromRaw(sys, range, meta);
      expect(obj.nframes).toBe(raw.n);
      if (raw.n > 0) expect(obj.metaType).toBe(T.meta);
      if (meta !== undefined) type = this.metaMode === 2 ? wrongType : raw.type; // empty: any type goes
    }
    hit('fromRaw ok ' + raw.kind);
    m.raws.splice(i, 1);
    for (let k = raw.start; k < raw.start + raw.n; k++) m.slots[k].forgotten--;
    addHandle(m, r, obj, raw.kind, raw.start, raw.n, type, raw.kind === 'segment' && meta === undefined);
  }
  toString(): string {
    return `raw[${this.pick}].fromRaw(${['no meta', 'meta', 'wrong meta'][this.metaMode]})`;
  }
}

/**
 * fromRaw of frames with no forgotten reference: checked mode, ContractError('from_raw_requires')
 * (a double free); unchecked, frames nobody holds are FrameUseError('NotHeld'). Region unchanged.
 */
class BogusFromRawCmd extends Cmd {
  constructor(
    readonly index: number,
    readonly kind: Kind,
    readonly len: number,
    /** Start at any frame, at a held one, or at one with a forgotten reference (so that a
     *  segment's fromRaw takes some references before it fails, and must give them back). */
    readonly from: 'any' | 'held' | 'forgotten',
  ) {
    super();
  }
  private range(m: Readonly<Model>): [number, number] {
    const start =
      this.from === 'held'
        ? heldIndex(m, this.index)
        : this.from === 'forgotten'
          ? forgottenIndex(m, this.index)
          : this.index % m.nframes;
    return [start, this.kind === 'segment' ? Math.min(m.nframes, start + this.len) : start + 1];
  }
  /** Only runs where the call must fail (the other cases are FromRawCmd's). */
  check(m: Readonly<Model>): boolean {
    const [a, b] = this.range(m);
    const want: SlotState = this.kind === 'unique' ? 'unique' : 'shared';
    return m.slots.slice(a, b).some((s) => s.state !== want || (m.checked && s.forgotten === 0));
  }
  protected exec(m: Model, r: Real): void {
    const sys = r.sys;
    const [a, b] = this.range(m);
    const p = paddrOf(a);
    const s = m.slots[a];
    // The right type for a unique slot, so that the failure is the contract and not WrongType.
    const uniqueMeta = s.state === 'unique' ? TYPES[s.type].meta : Untyped;
    const call =
      this.kind === 'frame'
        ? () => Frame.fromRaw(sys, p)
        : this.kind === 'unique'
          ? () => UniqueFrame.fromRaw(sys, p, uniqueMeta)
          : () => Segment.fromRaw(sys, { start: p, end: paddrOf(b) });
    hit(`bogus ${this.kind} ${s.state}`);
    if (m.checked) {
      const e = expectNoChange(sys, call, ContractError);
      expect((e as ContractError).contract).toBe('from_raw_requires');
    } else {
      expectNoChange(sys, call, FrameUseError, 'NotHeld');
    }
  }
  toString(): string {
    const what = { frame: 'Frame', unique: 'UniqueFrame', segment: 'Segment' }[this.kind];
    return `${what}.fromRaw(bogus ${this.from} #${this.index}${this.kind === 'segment' ? ` +${this.len}` : ''})`;
  }
}

/**
 * Checked mode: forgets a prefix of a live segment (slice + intoRaw), then Segment.fromRaw of the
 * whole segment: it takes the prefix's forgotten references, finds none for the rest, and must
 * give the ones it took back (ContractError, region unchanged).
 */
class PartialForgetCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly k: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.checked && liveOf(m, 'segment', (h) => h.n >= 2).length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'segment', (x) => x.n >= 2), this.pick);
    const k = 1 + (this.k % (h.n - 1));
    const part = segmentOf(r, h).slice({ start: 0, end: k * PAGE_SIZE });
    expect(part.intoRaw()).toEqual({ start: paddrOf(h.start), end: paddrOf(h.start + k) });
    for (let i = h.start; i < h.start + k; i++) {
      m.slots[i].count++;
      m.slots[i].forgotten++;
    }
    m.raws.push({ kind: 'segment', start: h.start, n: k, type: h.type });
    if (m.slots.slice(h.start, h.start + h.n).every((s) => s.forgotten > 0)) return;
    hit('fromRaw partly forgotten');
    const whole = { start: paddrOf(h.start), end: paddrOf(h.start + h.n) };
    const e = expectNoChange(r.sys, () => Segment.fromRaw(r.sys, whole), ContractError);
    expect((e as ContractError).contract).toBe('from_raw_requires');
  }
  toString(): string {
    return `segment[${this.pick}].slice(0..#${this.k}).intoRaw(); Segment.fromRaw(whole)`;
  }
}

/** tryAs on frame handle `h`: consumes on success, null and untouched otherwise. */
function tryAs(m: Model, r: Real, h: MHandle, type: number): void {
  const f = frameOf(r, h);
  const T = TYPES[type];
  hit(type === h.type ? 'tryAs ok' : 'tryAs null');
  if (type === h.type) {
    const g = f.tryAs(T.meta);
    expect(g).not.toBeNull();
    expect(g!.paddr).toBe(f.paddr);
    expect(g!.metaType).toBe(T.meta);
    consume(m, h);
    addHandle(m, r, g!, 'frame', h.start, 1, type);
  } else {
    expect(expectUnchanged(r.sys, () => f.tryAs(T.meta))).toBeNull();
    expect(f.referenceCount).toBe(m.slots[h.start].count); // still usable
  }
}

/** Frame.fromInUse on an address, maybe followed by tryAs. */
class FromInUseCmd extends Cmd {
  constructor(
    readonly index: number,
    /** 0: any frame, 1: below the region, 2: past its end, 3: far past it, 4: a held frame. */
    readonly where: 0 | 1 | 2 | 3 | 4,
    readonly offset: number,
    readonly tryType: number,
  ) {
    super();
  }
  check(): boolean {
    return true;
  }
  protected exec(m: Model, r: Real): void {
    const index =
      this.where === 4
        ? heldIndex(m, this.index)
        : [this.index % m.nframes, -1 - (this.index % 2), m.nframes + (this.index % 3), 2 ** 20 + this.index][this.where];
    const p = paddrOf(index) + this.offset;
    let code: GetFrameErrorCode | undefined;
    if (this.offset !== 0) code = 'NotAligned';
    else if (index < 0 || index >= m.nframes) code = 'OutOfBound';
    else if (m.slots[index].state === 'unused') code = 'Unused';
    else if (m.slots[index].state === 'unique') code = 'Unique';
    hit('fromInUse ' + (code ?? 'ok'));
    if (code !== undefined) {
      const e = expectNoChange(r.sys, () => Frame.fromInUse(r.sys, p), GetFrameError, code);
      expect((e as GetFrameError).paddr).toBe(p);
      return;
    }
    const s = m.slots[index];
    const f = Frame.fromInUse(r.sys, p);
    acquire(m, index);
    expect(f.paddr).toBe(p);
    expect(f.metaType).toBe(TYPES[s.type].meta);
    expect(f.referenceCount).toBe(s.count);
    const h = addHandle(m, r, f, 'frame', index, 1, s.type);
    if (this.tryType >= 0) tryAs(m, r, h, this.tryType);
  }
  toString(): string {
    const where = ['', 'below ', 'past ', 'far past ', 'held '][this.where];
    const t = this.tryType >= 0 ? `.tryAs(${TYPES[this.tryType].meta.name})` : '';
    return `Frame.fromInUse(${where}#${this.index}+${this.offset})${t}`;
  }
}

class TryAsCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly type: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'frame').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    tryAs(m, r, pick(liveOf(m, 'frame'), this.pick), this.type);
  }
  toString(): string {
    return `frame[${this.pick}].tryAs(${TYPES[this.type].meta.name})`;
  }
}

/** UniqueFrame.tryFrom: succeeds only when the count is exactly 1. */
class TryFromCmd extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'frame').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'frame'), this.pick);
    const f = frameOf(r, h);
    const s = m.slots[h.start];
    hit(s.count === 1 ? 'tryFrom ok' : 'tryFrom null');
    if (s.count !== 1) {
      expect(expectUnchanged(r.sys, () => UniqueFrame.tryFrom(f))).toBeNull();
      expect(f.referenceCount).toBe(s.count); // still usable
      return;
    }
    const u = UniqueFrame.tryFrom(f);
    expect(u).not.toBeNull();
    expect(u!.paddr).toBe(f.paddr);
    expect(u!.metaType).toBe(f.metaType);
    consume(m, h);
    s.state = 'unique';
    s.count = 0;
    addHandle(m, r, u!, 'unique', h.start, 1, h.type);
  }
  toString(): string {
    return `UniqueFrame.tryFrom(frame[${this.pick}])`;
  }
}

class IntoFrameCmd extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'unique').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'unique'), this.pick);
    const f = uniqueOf(r, h).intoFrame();
    expect(f.paddr).toBe(paddrOf(h.start));
    consume(m, h);
    const s = m.slots[h.start];
    s.state = 'shared';
    s.count = 1;
    addHandle(m, r, f, 'frame', h.start, 1, h.type);
  }
  toString(): string {
    return `unique[${this.pick}].intoFrame()`;
  }
}

/** unique.metaMut.value = v, read back through meta; a bad value is 'BadValue', unchanged. */
class MetaMutCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly value: number,
    readonly bad: number | null,
  ) {
    super();
  }
  private candidates(m: Readonly<Model>): MHandle[] {
    return liveOf(m, 'unique', (h) => TYPES[h.type].hasValue);
  }
  check(m: Readonly<Model>): boolean {
    return this.candidates(m).length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(this.candidates(m), this.pick);
    const u = uniqueOf(r, h);
    const mut = u.metaMut as unknown as { value: number };
    if (this.bad !== null) {
      hit('metaMut BadValue');
      const bad = this.bad;
      expectNoChange(
        r.sys,
        () => {
          mut.value = bad;
        },
        FrameUseError,
        'BadValue',
      );
      return;
    }
    mut.value = this.value;
    expect(valueOf(u.meta)).toBe(this.value);
    m.slots[h.start].value = this.value;
  }
  toString(): string {
    return `unique[${this.pick}].metaMut.value = ${this.bad ?? this.value}`;
  }
}

/** A shared handle's metadata reads the model's value and refuses writes ('ReadOnly'). */
class SharedMetaCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly value: number,
  ) {
    super();
  }
  private candidates(m: Readonly<Model>): MHandle[] {
    return liveOf(m, 'frame', (h) => TYPES[h.type].hasValue);
  }
  check(m: Readonly<Model>): boolean {
    return this.candidates(m).length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(this.candidates(m), this.pick);
    const f = frameOf(r, h);
    expect(valueOf(f.meta)).toBe(m.slots[h.start].value);
    expectNoChange(
      r.sys,
      () => {
        (f.meta as unknown as { value: number }).value = this.value;
      },
      FrameUseError,
      'ReadOnly',
    );
  }
  toString(): string {
    return `frame[${this.pick}].meta.value = ${this.value} (read-only)`;
  }
}

/** unique.repurpose(meta, init): the old type's onDrop runs, the slot stays unique. */
class RepurposeCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly type: number,
    readonly value: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'unique').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'unique'), this.pick);
    const T = TYPES[this.type];
    const v = uniqueOf(r, h).repurpose(T.meta, T.hasValue ? { value: this.value } : undefined);
    expect(v.metaType).toBe(T.meta);
    const s = m.slots[h.start];
    if (TYPES[s.type].onDrop) {
      // repurpose runs the old onDrop with the slot still unique.
      m.drops.push({ paddr: paddrOf(h.start), value: s.value, rc: REF_COUNT_UNIQUE, inUse: 'Unique', clone: 'Dropped' });
    }
    s.type = this.type;
    s.value = T.hasValue ? this.value : 0;
    consume(m, h);
    addHandle(m, r, v, 'unique', h.start, 1, this.type);
  }
  toString(): string {
    return `unique[${this.pick}].repurpose(${TYPES[this.type].meta.name}, ${this.value})`;
  }
}

/** segment.split(offset): valid offsets consume it into two; others are 'BadRange', unchanged. */
class SplitCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly k: number,
    readonly misalign: number,
    readonly negate: boolean,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'segment').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'segment'), this.pick);
    const seg = segmentOf(r, h);
    let offset = (this.k % (h.n + 2)) * PAGE_SIZE + this.misalign;
    if (this.negate) offset = -offset;
    if (!(offset % PAGE_SIZE === 0 && offset > 0 && offset < h.n * PAGE_SIZE)) {
      hit('split bad');
      expectNoChange(r.sys, () => seg.split(offset), FrameUseError, 'BadRange');
      return;
    }
    const [a, b] = seg.split(offset);
    const mid = h.start + offset / PAGE_SIZE;
    expect([a.startPaddr, a.endPaddr, b.startPaddr, b.endPaddr]).toEqual([
      paddrOf(h.start),
      paddrOf(mid),
      paddrOf(mid),
      paddrOf(h.start + h.n),
    ]);
    consume(m, h);
    addHandle(m, r, a, 'segment', h.start, mid - h.start, h.type, h.mixed);
    addHandle(m, r, b, 'segment', mid, h.start + h.n - mid, h.type, h.mixed);
  }
  toString(): string {
    return `segment[${this.pick}].split(${this.negate ? '-' : ''}#${this.k}+${this.misalign})`;
  }
}

/** segment.slice({start, end}): new references to a sub-range, or 'BadRange', unchanged. */
class SliceCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly a: number,
    readonly b: number,
    /** 0: aligned, 1: start misaligned, 2: end misaligned, 3: negative start. */
    readonly flaw: 0 | 1 | 2 | 3,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'segment').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'segment'), this.pick);
    const seg = segmentOf(r, h);
    let start = (this.a % (h.n + 2)) * PAGE_SIZE;
    let end = (this.b % (h.n + 2)) * PAGE_SIZE;
    if (this.flaw === 1) start += 512;
    if (this.flaw === 2) end += 512;
    if (this.flaw === 3) start = -start - PAGE_SIZE;
    const valid = start % PAGE_SIZE === 0 && end % PAGE_SIZE === 0 && start >= 0 && start <= end && end <= h.n * PAGE_SIZE;
    if (!valid) {
      hit('slice bad');
      expectNoChange(r.sys, () => seg.slice({ start, end }), FrameUseError, 'BadRange');
      return;
    }
    const s = seg.slice({ start, end });
    const first = h.start + start / PAGE_SIZE;
    const n = (end - start) / PAGE_SIZE;
    expect([s.startPaddr, s.endPaddr, s.nframes]).toEqual([paddrOf(first), paddrOf(first + n), n]);
    for (let k = first; k < first + n; k++) acquire(m, k);
    addHandle(m, r, s, 'segment', first, n, h.type, h.mixed);
  }
  toString(): string {
    const flaw = ['', ' start misaligned', ' end misaligned', ' start negative'][this.flaw];
    return `segment[${this.pick}].slice(#${this.a}..#${this.b}${flaw})`;
  }
}

class SegCloneCmd extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'segment').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'segment'), this.pick);
    const c = segmentOf(r, h).clone();
    expect([c.startPaddr, c.nframes]).toEqual([paddrOf(h.start), h.n]);
    for (let k = h.start; k < h.start + h.n; k++) acquire(m, k);
    addHandle(m, r, c, 'segment', h.start, h.n, h.type, h.mixed);
  }
  toString(): string {
    return `segment[${this.pick}].clone()`;
  }
}

/**
 * Iterates a segment (consuming it): the yielded frames become frame handles; when iteration
 * stops early, the frames not yet yielded are dropped.
 */
class IterateCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly take: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'segment').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'segment'), this.pick);
    const seg = segmentOf(r, h);
    const take = this.take % (h.n + 2);
    let frames: Frame<AnyMeta>[];
    hit(take >= h.n ? 'iterate all' : 'iterate partial');
    if (take >= h.n) {
      frames = [...seg];
    } else {
      frames = [];
      const it = seg[Symbol.iterator]();
      for (let i = 0; i < take; i++) {
        const res = it.next();
        expect(res.done).toBe(false);
        frames.push(res.value as Frame<AnyMeta>);
      }
      it.return!(); // what `break` in for-of does
      expect(it.next().done).toBe(true);
    }
    consume(m, h);
    expect(frames.map((f) => f.paddr)).toEqual(frames.map((_, i) => paddrOf(h.start + i)));
    frames.forEach((f, i) => {
      expect(f.metaType).toBe(TYPES[h.type].meta);
      addHandle(m, r, f, 'frame', h.start + i, 1, h.type);
    });
    for (let k = h.start + frames.length; k < h.start + h.n; k++) release(m, k);
  }
  toString(): string {
    return `for (f of segment[${this.pick}]) (take ${this.take})`;
  }
}

class FromFrameCmd extends Cmd {
  constructor(readonly pick: number) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return liveOf(m, 'frame').length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(liveOf(m, 'frame'), this.pick);
    const f = frameOf(r, h);
    const seg = Segment.fromFrame(f);
    expect([seg.startPaddr, seg.endPaddr, seg.nframes]).toEqual([f.paddr, f.endPaddr, 1]);
    consume(m, h);
    addHandle(m, r, seg, 'segment', h.start, 1, h.type);
  }
  toString(): string {
    return `Segment.fromFrame(frame[${this.pick}])`;
  }
}

/** fill(byte) of any live handle: untyped frames take it, typed ones refuse ('Typed'). */
class FillCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly byte: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.live.length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(m.live, this.pick);
    const o = r.objs.get(h.id)!;
    const slots = m.slots.slice(h.start, h.start + h.n);
    const untyped = h.mixed ? slots.every((s) => TYPES[s.type].untyped) : TYPES[h.type].untyped;
    if (!untyped) {
      hit('fill typed');
      expectNoChange(r.sys, () => fillOf(o, this.byte), FrameUseError, 'Typed');
      return;
    }
    fillOf(o, this.byte);
    const bytes = bytesOf(o);
    expect(bytes.length).toBe(h.n * PAGE_SIZE);
    if (h.n > 0) expect([bytes[0], bytes[bytes.length - 1]]).toEqual([this.byte, this.byte]);
    for (const s of slots) s.content = this.byte;
  }
  toString(): string {
    return `live[${this.pick}].fill(${this.byte})`;
  }
}

function fillOf(o: Handle, byte: number): void {
  if (o instanceof Segment) o.fill(byte);
  else if (o instanceof UniqueFrame) o.fill(byte);
  else o.fill(byte);
}

function bytesOf(o: Handle): Uint8Array {
  return o instanceof Segment ? o.bytes() : o instanceof UniqueFrame ? o.bytes() : o.bytes();
}

/** Any use of a dropped or consumed handle is 'Dropped' and changes nothing; dispose is a no-op. */
class UseDeadCmd extends Cmd {
  constructor(
    readonly pick: number,
    readonly op: number,
  ) {
    super();
  }
  check(m: Readonly<Model>): boolean {
    return m.dead.length > 0;
  }
  protected exec(m: Model, r: Real): void {
    const h = pick(m.dead, this.pick);
    const o = r.objs.get(h.id)!;
    const meta = TYPES[h.type].meta;
    let ops: (() => unknown)[];
    if (o instanceof Frame) {
      expect(o.paddr).toBe(paddrOf(h.start));
      ops = [
        () => o.clone(),
        () => o.drop(),
        () => o.borrow(),
        () => o.intoRaw(),
        () => o.tryAs(meta),
        () => o.referenceCount,
        () => o.meta,
        () => UniqueFrame.tryFrom(o),
        () => Segment.fromFrame(o),
        () => o.fill(1),
        () => o.bytes(),
      ];
    } else if (o instanceof UniqueFrame) {
      expect(o.paddr).toBe(paddrOf(h.start));
      ops = [
        () => o.drop(),
        () => o.intoFrame(),
        () => o.intoRaw(),
        () => o.meta,
        () => o.metaMut,
        () => o.referenceCount,
        () => o.repurpose(Untyped),
        () => o.fill(1),
        () => o.bytes(),
      ];
    } else {
      expect([o.startPaddr, o.nframes]).toEqual([paddrOf(h.start), h.n]);
      ops = [
        () => o.drop(),
        () => o.clone(),
        () => o.split(PAGE_SIZE),
        () => o.slice({ start: 0, end: 0 }),
        () => o.intoRaw(),
        () => [...o],
        () => o.fill(1),
        () => o.bytes(),
      ];
    }
    hit(`dead ${h.kind}`);
    expectNoChange(r.sys, pick(ops, this.op), FrameUseError, 'Dropped');
    expectUnchanged(r.sys, () => o[Symbol.dispose]());
  }
  toString(): string {
    return `dead[${this.pick}].op${this.op}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const pickArb = fc.nat(255);
const typeArb = fc.nat(TYPES.length - 1);
const boolArb = fc.boolean();
const u32Arb = fc.oneof(fc.constantFrom(0, 1, 0xffff_ffff), fc.integer({ min: 0, max: 0xffff_ffff }));
const viaArb = fc.constantFrom('sys' as const, 'options' as const);
const segCountArb = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, Number.NaN) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 8 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 72 }) },
);

function commandArbs(): fc.Arbitrary<Cmd>[] {
  const dirtyArb = fc.option(fc.integer({ min: 1, max: 255 }), { freq: 2 });
  const allocFrame = fc
    .tuple(typeArb, viaArb, boolArb, u32Arb, boolArb, dirtyArb)
    .map(([t, via, z, v, u, dirty]) => new AllocFrameCmd(t, via, z, v, u, dirty));
  const allocSegment = fc
    .tuple(segCountArb, typeArb, viaArb, boolArb, u32Arb, dirtyArb)
    .map(([n, t, via, z, base, dirty]) => new AllocSegmentCmd(n, t, via, z, base, dirty));
  return [
    allocFrame,
    allocFrame,
    allocFrame,
    allocSegment,
    allocSegment,
    allocSegment,
    u32Arb.map((v) => new ExhaustCmd(v)),
    fc.tuple(pickArb, boolArb).map(([p, b]) => new CloneCmd(p, b)),
    fc.tuple(pickArb, boolArb).map(([p, c]) => new RefCmd(p, c)),
    fc.tuple(pickArb, boolArb).map(([p, c]) => new RefCmd(p, c)),
    fc.tuple(pickArb, boolArb).map(([p, d]) => new DropCmd(p, d)),
    pickArb.map((p) => new IntoRawCmd(p)),
    fc.tuple(pickArb, pickArb).map(([p, k]) => new PartialForgetCmd(p, k)),
    fc
      .tuple(pickArb, fc.constantFrom(0 as const, 1 as const, 2 as const), fc.nat(8))
      .map(([p, mode, w]) => new FromRawCmd(p, mode, w)),
    fc
      .tuple(
        pickArb,
        fc.constantFrom('frame' as const, 'unique' as const, 'segment' as const),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom('any' as const, 'held' as const, 'forgotten' as const),
      )
      .map(([i, k, len, from]) => new BogusFromRawCmd(i, k, len, from)),
    fc
      .tuple(
        pickArb,
        fc.constantFrom(0 as const, 0 as const, 1 as const, 2 as const, 3 as const, 4 as const, 4 as const, 4 as const),
        fc.constantFrom(0, 0, 0, 0, 1, 2048, PAGE_SIZE - 1),
        fc.integer({ min: -1, max: TYPES.length - 1 }),
      )
      .map(([i, w, off, t]) => new FromInUseCmd(i, w, off, t)),
    fc.tuple(pickArb, typeArb).map(([p, t]) => new TryAsCmd(p, t)),
    pickArb.map((p) => new TryFromCmd(p)),
    pickArb.map((p) => new IntoFrameCmd(p)),
    fc
      .tuple(pickArb, u32Arb, fc.option(fc.constantFrom(-1, 2 ** 32, 1.5, Number.NaN), { freq: 4 }))
      .map(([p, v, bad]) => new MetaMutCmd(p, v, bad)),
    fc.tuple(pickArb, u32Arb).map(([p, v]) => new SharedMetaCmd(p, v)),
    fc.tuple(pickArb, typeArb, u32Arb).map(([p, t, v]) => new RepurposeCmd(p, t, v)),
    fc
      .tuple(pickArb, pickArb, fc.constantFrom(0, 0, 0, 1, 2048), fc.boolean())
      .map(([p, k, mis, neg]) => new SplitCmd(p, k, mis, neg)),
    fc
      .tuple(pickArb, pickArb, pickArb, fc.constantFrom(0 as const, 0 as const, 0 as const, 1 as const, 2 as const, 3 as const))
      .map(([p, a, b, flaw]) => new SliceCmd(p, a, b, flaw)),
    pickArb.map((p) => new SegCloneCmd(p)),
    fc.tuple(pickArb, pickArb).map(([p, t]) => new IterateCmd(p, t)),
    pickArb.map((p) => new FromFrameCmd(p)),
    fc.tuple(pickArb, fc.nat(255)).map(([p, b]) => new FillCmd(p, b)),
    fc.tuple(pickArb, pickArb).map(([p, op]) => new UseDeadCmd(p, op)),
  ];
}

/** Commands and branches that every mode reaches many times in 100+ runs. */
const REQUIRED = [
  ...[AllocFrameCmd, AllocSegmentCmd, CloneCmd, DropCmd, IntoRawCmd, FromRawCmd, BogusFromRawCmd, FromInUseCmd].map((c) => c.name),
  ...[TryAsCmd, TryFromCmd, IntoFrameCmd, MetaMutCmd, SharedMetaCmd, RepurposeCmd, SplitCmd, SliceCmd].map((c) => c.name),
  ...[SegCloneCmd, IterateCmd, FromFrameCmd, FillCmd, UseDeadCmd, RefCmd].map((c) => c.name),
  'allocSeg InvalidArgs',
  'exhausted',
  'onDrop last drop',
  'onDrop repurpose',
  'allocSeg NoMemory n>free',
  'allocSeg ok',
  'bogus frame unused',
  'bogus unique shared',
  'bogus segment unused',
  'dead frame',
  'dead unique',
  'dead segment',
  'fill typed',
  'fromInUse NotAligned',
  'fromInUse OutOfBound',
  'fromInUse Unused',
  'fromInUse ok',
  'fromRaw ok frame',
  'fromRaw ok unique',
  'fromRaw ok segment',
  'iterate all',
  'iterate partial',
  'metaMut BadValue',
  'ref live',
  'slice bad',
  'split bad',
  'tryAs ok',
  'tryAs null',
  'tryFrom ok',
  'tryFrom null',
];
/** Checked mode: fromRaw of a held frame with no forgotten reference (the double free). */
const REQUIRED_CHECKED = ['bogus frame shared', 'bogus segment shared', 'fromRaw partly forgotten'];

/** Restores every forgotten reference, drops every handle, and checks all frames are free. */
function teardown(m: Model, r: Real): void {
  while (m.raws.length > 0) new FromRawCmd(0, 1, 0).run(m, r);
  while (m.live.length > 0) new DropCmd(0, false).run(m, r);
  for (const h of m.dead) expectNoChange(r.sys, () => r.objs.get(h.id)!.drop(), FrameUseError, 'Dropped');
  expect(r.sys.stats().free).toBe(m.nframes);
  expect(m.slots.every((s) => s.state === 'unused' && s.forgotten === 0)).toBe(true);
  r.sys.checkInvariants();
}

function runModel(sizes: readonly number[], checked: boolean, sab = false): void {
  coverage.clear();
  fc.assert(
    fc.property(
      fc.constantFrom(...sizes),
      fc.commands(commandArbs(), { maxCommands: MAX_COMMANDS, size: 'max' }),
      (nframes, cmds) => {
        const state = setup(nframes, checked, sab);
        fc.modelRun(() => state, cmds);
        teardown(state.model, state.real);
      },
    ),
    {
      numRuns: RUNS,
      seed: process.env.PAGEFRAME_MODEL_SEED === undefined ? undefined : Number(process.env.PAGEFRAME_MODEL_SEED),
      path: process.env.PAGEFRAME_MODEL_PATH,
    },
  );
  if (process.env.PAGEFRAME_MODEL_STATS) {
    console.log([...coverage].sort().map(([k, v]) => `${checked ? 'checked' : 'unchecked'} ${k}: ${v}`).join('\n'));
  }
  // A model whose commands never apply would pass vacuously: full-sized runs must reach these.
  if (RUNS >= 100 && process.env.PAGEFRAME_MODEL_PATH === undefined) {
    const required = [...REQUIRED, ...(checked ? REQUIRED_CHECKED : [])];
    expect(required.filter((label) => !coverage.has(label)), 'branches no run reached').toEqual([]);
  }
}

const TIMEOUT = Math.max(60_000, RUNS * 1_000);

describe('model-based: frames, unique frames and segments against a reference model', () => {
  it(`unchecked mode (${RUNS} runs, regions of ${UNCHECKED_SIZES.join('/')} frames)`, () => {
    runModel(UNCHECKED_SIZES, false);
  }, TIMEOUT);

  it(`unchecked mode on a SharedArrayBuffer: JS Atomics instead of WebAssembly (${RUNS} runs)`, () => {
    runModel(UNCHECKED_SIZES, false, true);
  }, TIMEOUT);

  it(`checked mode (${RUNS} runs, ${CHECKED_SIZE} frames)`, () => {
    runModel([CHECKED_SIZE], true);
  }, TIMEOUT);
});
