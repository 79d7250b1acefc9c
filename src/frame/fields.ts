/**
 * Fields in shared memory: the kinds a field may have, how a schema of fields is laid out, the
 * codecs that read and write each kind at a byte of a region, and the view objects (one accessor
 * per field, atomic fields as `AtomicCell`s). Metadata types (`meta-type.ts`: fields in a slot's
 * 40 bytes) and structs (`heap/struct.ts`: fields anywhere in the frames) are both built on it.
 */
import { describe } from '../base/args.js';
import { FrameUseError, MetaTypeError, hex } from '../base/errors.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';
import { PAGE_SIZE } from '../base/units.js';
import type { Paddr } from '../base/units.js';
import type { MemoryViews } from '../shm/views.js';

/**
 * The kinds of a field of a metadata type (`defineMeta`) or a struct (`defineStruct`): integers
 * of 8 to 64 bits (64-bit ones read as `bigint`), floats, `bool`; `paddr` holds a frame address
 * or null; `atomic-*` fields can be updated through shared handles and from any worker with
 * atomic operations (see {@link AtomicCell}).
 *
 * @example
 * ```ts
 * const kind: FieldKind = 'atomic-u32';
 * const Rec = defineMeta('app.record', { small: 'u8', big: 'i64', ok: 'bool', next: 'paddr', hits: kind });
 * const rec = sys.allocFrame(Rec, { small: 255, big: -1n, ok: true, next: null });
 * console.log(rec.meta.small, rec.meta.big, rec.meta.ok, rec.meta.next); // 255 -1n true null
 * rec.drop();
 * ```
 */
export type FieldKind =
  | 'u8'
  | 'i8'
  | 'u16'
  | 'i16'
  | 'u32'
  | 'i32'
  | 'f32'
  | 'f64'
  | 'u64'
  | 'i64'
  | 'bool'
  | 'paddr'
  | 'atomic-u32'
  | 'atomic-i32';

/** The kinds of the fields that are `AtomicCell`s. */
export type AtomicKind = 'atomic-u32' | 'atomic-i32';

/**
 * A schema: field name → kind. For a metadata type, at most `FRAME_METADATA_MAX_SIZE` (40) bytes
 * of fields; a struct has no limit. Names are identifiers (not `toJSON`, `constructor`, ...; for
 * a struct, not `addr`).
 *
 * @example
 * ```ts
 * const schema = { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' } as const satisfies Schema;
 * const PageMeta = defineMeta('app.page', schema);
 * console.log(PageMeta.size); // 9: fields are laid out largest first, without padding
 * ```
 */
export type Schema = { readonly [field: string]: FieldKind };

/**
 * The value a field of kind K reads as: `bigint` for 64-bit integers, `boolean`, `Paddr | null`
 * for `paddr`, an `AtomicCell` for atomic fields, else `number`.
 *
 * @example
 * ```ts
 * const Rec = defineMeta('app.values', { n: 'u32', big: 'u64', next: 'paddr' });
 * const rec = sys.allocFrame(Rec, { big: 1n << 40n });
 * const next: FieldValue<'paddr'> = rec.meta.next;
 * console.log(rec.meta.n, rec.meta.big, next); // 0 1099511627776n null
 * rec.drop();
 * ```
 */
export type FieldValue<K> = K extends 'u64' | 'i64'
  ? bigint
  : K extends 'bool'
    ? boolean
    : K extends 'paddr'
      ? Paddr | null
      : K extends AtomicKind
        ? AtomicCell
        : number;

/**
 * The value a field of kind K is initialised with: as it reads, but a plain number for atomic
 * fields.
 *
 * @example
 * ```ts
 * const start: FieldInit<'atomic-u32'> = 5;
 * const Counter = defineMeta('app.counter', { count: 'atomic-u32' });
 * const frame = sys.allocFrame(Counter, { count: start });
 * console.log(frame.meta.count.add(1), frame.meta.count.load()); // 5 6
 * frame.drop();
 * ```
 */
export type FieldInit<K> = K extends AtomicKind ? number : FieldValue<K>;

/**
 * An atomic field (`atomic-u32` / `atomic-i32`) of metadata or of a struct: `Atomics` on its
 * word, usable through shared handles and struct views in every worker. Each method is the `Atomics` function of that name;
 * the read-modify-write ones return the value before.
 *
 * @example
 * ```ts
 * const Counter = defineMeta('app.counter', { count: 'atomic-u32' });
 * const frame = sys.allocFrame(Counter);
 * const cell: AtomicCell = frame.meta.count;
 * cell.add(2);
 * console.log(cell.compareExchange(2, 10), cell.load()); // 2 10
 * frame.drop();
 * ```
 */
export interface AtomicCell {
  /** The value now. */
  load(): number;
  /** Sets the value; returns it. */
  store(value: number): number;
  /** Adds `value`; returns the value before. */
  add(value: number): number;
  /** Subtracts `value`; returns the value before. */
  sub(value: number): number;
  /** Bitwise and; returns the value before. */
  and(value: number): number;
  /** Bitwise or; returns the value before. */
  or(value: number): number;
  /** Bitwise xor; returns the value before. */
  xor(value: number): number;
  /** Sets the value; returns the value before. */
  exchange(value: number): number;
  /** Sets `replacement` if the value is `expected`; returns the value before either way. */
  compareExchange(expected: number, replacement: number): number;
}

/** What a view needs from the handle (or block) it belongs to. */
export interface ViewOwner {
  /** The address of the frame (or of the struct) the view reads, for messages. */
  readonly paddr: Paddr;
  /** @internal */
  readonly _live: boolean;
  /** @internal The system the handle belongs to: closed, it refuses every use. */
  readonly _sys: { readonly _closed: boolean };
  /** @internal Why the view stopped working, when `Dropped` does not say it (a stale cursor's, a freed struct's). */
  readonly _deadError?: () => FrameUseError;
}

/** @internal Where a field lives and how it is read and written. */
export interface FieldLayout {
  readonly name: string;
  readonly kind: FieldKind;
  readonly offset: number; // bytes from the storage start
  readonly size: number;
}

/** @internal Bytes of each kind: also its alignment. */
export const KIND_SIZE: Record<FieldKind, number> = {
  u8: 1,
  i8: 1,
  bool: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  paddr: 4,
  'atomic-u32': 4,
  'atomic-i32': 4,
  f64: 8,
  u64: 8,
  i64: 8,
};

const FIELD_NAME = /^[A-Za-z_$][\w$]*$/;
const RESERVED_FIELDS = new Set(['constructor', '__proto__', 'toJSON', 'prototype']);
const MAX_NAME = 128;

/**
 * @internal Refuses a type name that is not a string of 1..128 characters, or a schema that is not an
 * object: `MetaTypeError('BadSchema')` (the fields themselves are `layoutFields`'s to check).
 */
export function checkDefinition(name: unknown, schema: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) {
    throw new MetaTypeError('BadSchema', `a type name is a string of 1..${MAX_NAME} characters, not ${describe(name)}`);
  }
  if (schema === null || typeof schema !== 'object') {
    throw new MetaTypeError('BadSchema', `the schema of '${name}' must be an object, not ${describe(schema)}`);
  }
}

/**
 * @internal The type defined in this worker under `fresh.name`, from `defined` (one map per family: metadata
 * types, structs): `fresh` itself the first time, after that the same object for the same
 * description (`_descriptor`), else `MetaTypeError('Conflict')`.
 */
export function defineOnce<T extends { readonly name: string; readonly _descriptor: string }>(defined: Map<string, T>, fresh: T): T {
  const existing = defined.get(fresh.name);
  if (existing === undefined) {
    defined.set(fresh.name, fresh);
    return fresh;
  }
  if (existing._descriptor !== fresh._descriptor) {
    throw new MetaTypeError('Conflict', `'${fresh.name}' is already defined as ${existing._descriptor}, not ${fresh._descriptor}`);
  }
  return existing;
}

/**
 * @internal The fields of `schema` in storage order, each at its byte offset: largest kind first, then by
 * name, so every field is aligned to its size once the first one is, no padding is needed, and
 * the same fields give the same layout in every worker whatever order they were written in.
 * `MetaTypeError('BadSchema')` for a name that is not an identifier, is `reserved` (besides
 * `constructor`, `toJSON`, ...) or starts with `_$`, or an unknown kind.
 */
export function layoutFields(typeName: string, schema: Schema, reserved: readonly string[] = []): FieldLayout[] {
  const names = Object.keys(schema);
  for (const n of names) {
    if (!FIELD_NAME.test(n) || n.startsWith('_$') || RESERVED_FIELDS.has(n) || reserved.includes(n)) {
      throw new MetaTypeError('BadSchema', `'${typeName}': '${n}' is not a usable field name`);
    }
    if (!Object.prototype.hasOwnProperty.call(KIND_SIZE, schema[n])) {
      throw new MetaTypeError(
        'BadSchema',
        `'${typeName}.${n}': unknown kind '${describe(schema[n])}' (one of ${Object.keys(KIND_SIZE).join(', ')})`,
      );
    }
  }
  names.sort((a, b) => KIND_SIZE[schema[b]] - KIND_SIZE[schema[a]] || (a < b ? -1 : a > b ? 1 : 0));
  let offset = 0;
  return names.map((n) => {
    const kind = schema[n];
    const size = KIND_SIZE[kind];
    const f = { name: n, kind, offset, size };
    offset += size;
    return f;
  });
}

const INT_RANGE: Partial<Record<FieldKind, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffff_ffff],
  i32: [-0x8000_0000, 0x7fff_ffff],
  'atomic-u32': [0, 0xffff_ffff],
  'atomic-i32': [-0x8000_0000, 0x7fff_ffff],
};

/** Refuses a value that does not fit field `f` of type `typeName`: `FrameUseError('BadValue')`. */
function checkValue(typeName: string, f: FieldLayout, value: unknown): void {
  const bad = (what: string): never => {
    throw new FrameUseError('BadValue', `${typeName}.${f.name} (${f.kind}): ${what}`);
  };
  const range = INT_RANGE[f.kind];
  if (range !== undefined) {
    if (!Number.isInteger(value) || (value as number) < range[0] || (value as number) > range[1]) {
      bad(`${describe(value)} is not an integer in [${range[0]}, ${range[1]}]`);
    }
    return;
  }
  switch (f.kind) {
    case 'f32':
    case 'f64':
      if (typeof value !== 'number') bad(`${describe(value)} is not a number`);
      return;
    case 'u64':
      if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n) bad(`not a bigint in u64 range`);
      return;
    case 'i64':
      if (typeof value !== 'bigint' || value < -(1n << 63n) || value >= 1n << 63n) bad(`not a bigint in i64 range`);
      return;
    case 'bool':
      if (typeof value !== 'boolean') bad(`${describe(value)} is not a boolean`);
      return;
    case 'paddr':
      if (value === null) return;
      if (
        typeof value !== 'number' ||
        !Number.isInteger(value) ||
        value < 0 ||
        value % PAGE_SIZE !== 0 ||
        value / PAGE_SIZE >= 0xffff_ffff
      ) {
        bad(`${describe(value)} is not null or a page-aligned address`);
      }
      return;
  }
}

/**
 * @internal Checks `init` against `fields` of type `typeName` (any subset of the fields, each value fitting
 * its kind), throwing `FrameUseError('BadValue')` before anything is written: call it before
 * claiming or allocating, so a bad value changes nothing.
 */
export function checkInit(typeName: string, fields: readonly FieldLayout[], init: unknown): void {
  if (init === undefined || init === null) return;
  if (typeof init !== 'object') {
    throw new FrameUseError('BadValue', `the initial fields of '${typeName}' must be an object, not ${describe(init)}`);
  }
  for (const key in init) {
    const f = fields.find((x) => x.name === key);
    if (f === undefined) throw new FrameUseError('BadValue', `'${typeName}' has no field '${key}'`);
    const value = (init as Record<string, unknown>)[key];
    if (value !== undefined) checkValue(typeName, f, value);
  }
}

/**
 * @internal Writes the fields `init` gives (checked by `checkInit`) at byte `at`; with `zeroRest`, the
 * others too, as zero (false, null). OWNER: the storage is the caller's alone (see `writeField`).
 */
export function writeInit(mem: MemoryViews, at: number, fields: readonly FieldLayout[], init: unknown, zeroRest: boolean): void {
  const values = (init ?? {}) as Record<string, unknown>;
  for (const f of fields) {
    const value = values[f.name];
    if (value !== undefined) writeField(mem, at + f.offset, f.kind, value);
    else if (zeroRest) writeField(mem, at + f.offset, f.kind, ZERO[f.kind]);
  }
}

/** Each kind's zero, as `writeField` takes it. */
const ZERO: Record<FieldKind, unknown> = {
  u8: 0, i8: 0, bool: false, u16: 0, i16: 0, u32: 0, i32: 0, f32: 0, paddr: null,
  'atomic-u32': 0, 'atomic-i32': 0, f64: 0, u64: 0n, i64: 0n,
};

/**
 * Writes one field at byte `at`. OWNER: for metadata, the slot is busy (being set up) or held
 * by a `UniqueFrame` (`metaMut`): this worker's alone, so plain stores; shared views refuse
 * writes but to atomic fields, which `makeAtomicCell` writes with `Atomics`. For a struct, the
 * bytes are the program's, as a typed array on shared memory is: its plain fields are ordered
 * by whatever hands the struct's address over (a `postMessage`, an atomic field, a channel).
 */
function writeField(m: MemoryViews, at: number, kind: FieldKind, value: unknown): void {
  switch (kind) {
    case 'u8':
      m.u8[at] = value as number;
      return;
    case 'i8':
      m.i8[at] = value as number;
      return;
    case 'bool':
      m.u8[at] = value ? 1 : 0;
      return;
    case 'u16':
      m.u16[at >> 1] = value as number;
      return;
    case 'i16':
      m.i16[at >> 1] = value as number;
      return;
    case 'u32':
      m.u32[at >> 2] = value as number;
      return;
    case 'i32':
      m.i32[at >> 2] = value as number;
      return;
    case 'atomic-u32':
      Atomics.store(m.u32, at >> 2, value as number);
      return;
    case 'atomic-i32':
      Atomics.store(m.i32, at >> 2, value as number);
      return;
    case 'f32':
      m.f32[at >> 2] = value as number;
      return;
    case 'paddr':
      m.u32[at >> 2] = value === null ? 0 : (value as number) / PAGE_SIZE + 1;
      return;
    case 'f64':
      m.f64[at >> 3] = value as number;
      return;
    case 'u64':
      m.u64[at >> 3] = value as bigint;
      return;
    case 'i64':
      m.i64[at >> 3] = value as bigint;
      return;
  }
}

function readPlain(m: MemoryViews, at: number, kind: FieldKind): unknown {
  switch (kind) {
    case 'u8':
      return m.u8[at];
    case 'i8':
      return m.i8[at];
    case 'bool':
      return m.u8[at] !== 0;
    case 'u16':
      return m.u16[at >> 1];
    case 'i16':
      return m.i16[at >> 1];
    case 'u32':
      return m.u32[at >> 2];
    case 'i32':
      return m.i32[at >> 2];
    case 'atomic-u32':
      return Atomics.load(m.u32, at >> 2);
    case 'atomic-i32':
      return Atomics.load(m.i32, at >> 2);
    case 'f32':
      return m.f32[at >> 2];
    case 'paddr': {
      const v = m.u32[at >> 2];
      return v === 0 ? null : (v - 1) * PAGE_SIZE;
    }
    case 'f64':
      return m.f64[at >> 3];
    case 'u64':
      return m.u64[at >> 3];
    case 'i64':
      return m.i64[at >> 3];
  }
}

/**
 * @internal The internal fields of a view object: its owner, the views of the region, the byte its fields
 * start at; and, from its prototype, what it is called in messages ('metadata of frame', ...).
 */
export interface ViewState {
  _$h: ViewOwner;
  _$m: MemoryViews;
  _$b: number;
  /** The view's atomic cells, made at first use (by field index). */
  _$c: AtomicCell[] | undefined;
  readonly _$l: string;
}

function deadView(v: ViewState): FrameUseError {
  if (v._$h._sys._closed) return new FrameUseError('Closed', `${v._$l} ${hex(v._$h.paddr)} used after its FrameSystem was closed`);
  if (v._$h._deadError !== undefined) return v._$h._deadError();
  return new FrameUseError('Dropped', `${v._$l} ${hex(v._$h.paddr)} used after its handle was dropped or consumed`);
}

/**
 * An atomic field's cell. ORDER: every access is an `Atomics` call, so handles in several
 * workers may update the field at once (it carries no happens-before edge for other fields).
 */
function makeAtomicCell(v: ViewState, arr: Int32Array | Uint32Array, i: number): AtomicCell {
  return new Cell(v, arr, i);
}

/**
 * An atomic field's cell: its methods on the prototype, so that making one (at a view's first use
 * of the field: every frame received reads its fields through a new view) is one small object,
 * not a closure per method. Each call checks the view's handle first.
 */
class Cell implements AtomicCell {
  constructor(
    private readonly v: ViewState,
    private readonly arr: Int32Array | Uint32Array,
    private readonly i: number,
  ) {}

  private live(): void {
    if (!this.v._$h._live || this.v._$h._sys._closed) throw deadView(this.v);
  }

  load(): number {
    this.live();
    return Atomics.load(this.arr, this.i);
  }

  store(x: number): number {
    this.live();
    return Atomics.store(this.arr, this.i, x);
  }

  add(x: number): number {
    this.live();
    return Atomics.add(this.arr, this.i, x);
  }

  sub(x: number): number {
    this.live();
    return Atomics.sub(this.arr, this.i, x);
  }

  and(x: number): number {
    this.live();
    return Atomics.and(this.arr, this.i, x);
  }

  or(x: number): number {
    this.live();
    return Atomics.or(this.arr, this.i, x);
  }

  xor(x: number): number {
    this.live();
    return Atomics.xor(this.arr, this.i, x);
  }

  exchange(x: number): number {
    this.live();
    return Atomics.exchange(this.arr, this.i, x);
  }

  compareExchange(expected: number, replacement: number): number {
    this.live();
    return Atomics.compareExchange(this.arr, this.i, expected, replacement);
  }

  /** What console.log shows: `AtomicCell(7)`, the value now (or why it cannot be read). */
  [INSPECT](): string {
    return inspectSafely(() => `AtomicCell(${this.load()})`, () => 'AtomicCell(dropped)');
  }
}

/**
 * @internal Builds the prototype of a view: one accessor per field, reading shared memory live; with
 * `writable`, plain fields may be set (checked against their kind). `typeName` and `label`
 * ('metadata of frame', "struct 'app.point' at") name the view in messages.
 */
export function makeProto(fields: readonly FieldLayout[], writable: boolean, typeName: string, label: string): object {
  const proto: Record<string, unknown> = {};
  for (const [index, f] of fields.entries()) {
    const { offset, kind } = f;
    const atomic = kind === 'atomic-u32' || kind === 'atomic-i32';
    const get = atomic
      ? function (this: ViewState) {
          if (!this._$h._live || this._$h._sys._closed) throw deadView(this);
          const arr = kind === 'atomic-u32' ? this._$m.u32 : this._$m.i32;
          // One cell per view and field, made at first use: each of its calls checks the view.
          return ((this._$c ??= [])[index] ??= makeAtomicCell(this, arr, (this._$b + offset) >> 2));
        }
      : function (this: ViewState) {
          if (!this._$h._live || this._$h._sys._closed) throw deadView(this);
          return readPlain(this._$m, this._$b + offset, kind);
        };
    const set =
      writable && !atomic
        ? function (this: ViewState, value: unknown) {
            if (!this._$h._live || this._$h._sys._closed) throw deadView(this);
            checkValue(typeName, f, value);
            writeField(this._$m, this._$b + offset, kind, value);
          }
        : function (this: ViewState) {
            throw new FrameUseError(
              'ReadOnly',
              atomic
                ? `${f.name} is atomic: use its methods (store, add, ...)`
                : `${f.name}: metadata is read-only through a shared handle; use a UniqueFrame's metaMut`,
            );
          };
    Object.defineProperty(proto, f.name, { get, set, enumerable: true, configurable: false });
  }
  Object.defineProperty(proto, '_$l', { value: label, enumerable: false });
  // What console.log shows of a view: its fields as they are now, on one line
  // (`{ owner: 3, hits: 0, size: 0n }`), never the view's internals and the memory behind them.
  Object.defineProperty(proto, INSPECT, {
    value: function (this: ViewState) {
      return inspectSafely(
        () => {
          if (!this._$h._live || this._$h._sys._closed) throw deadView(this);
          const shown = fields.map((f) => {
            const v = readPlain(this._$m, this._$b + f.offset, f.kind);
            return `${f.name}: ${typeof v === 'bigint' ? `${v}n` : String(v)}`;
          });
          return shown.length === 0 ? '{}' : `{ ${shown.join(', ')} }`;
        },
        () => `{ ${this._$l} ${hex(this._$h.paddr)}: ${this._$h._sys._closed ? 'system closed' : 'dropped'} }`,
      );
    },
    enumerable: false,
  });
  // JSON of a view: a plain snapshot; 64-bit fields as decimal strings (JSON has no bigint).
  Object.defineProperty(proto, 'toJSON', {
    value: function (this: ViewState) {
      const out: Record<string, unknown> = {};
      for (const f of fields) {
        const v = readPlain(this._$m, this._$b + f.offset, f.kind);
        out[f.name] = typeof v === 'bigint' ? v.toString() : v;
      }
      return out;
    },
    enumerable: false,
  });
  return proto;
}

/** @internal A view with prototype `proto` (from `makeProto`) of the fields at byte `at` of `mem`. */
export function makeView(proto: object, owner: ViewOwner, mem: MemoryViews, at: number): object {
  const v = Object.create(proto) as ViewState;
  v._$h = owner;
  v._$m = mem;
  v._$b = at;
  v._$c = undefined;
  return v;
}
