/**
 * Metadata types: `defineMeta` turns a schema of fields into a `MetaType` that knows how its
 * values are laid out in a slot's 40-byte storage, and makes the views through which handles read
 * (`meta`) and write (`metaMut`) them in shared memory. This is the kernel's `AnyFrameMeta`
 * (with `on_drop` and `is_untyped`) and its layout check `check_frame_meta_layout!`.
 */
import { describe } from '../base/args.js';
import { FrameUseError, InvariantError, MetaTypeError, hex } from '../base/errors.js';
import { FRAME_METADATA_MAX_SIZE } from '../base/limits.js';
import { PAGE_SIZE } from '../base/units.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';
import type { Paddr } from '../base/units.js';
import { findType, registerType, registeredDescriptor } from '../region/registry.js';
import type { Region } from '../region/region.js';
import type { MemoryViews } from '../shm/views.js';

/**
 * The kinds of a metadata field: integers of 8 to 64 bits (64-bit ones read as `bigint`),
 * floats, `bool`; `paddr` holds a frame address or null; `atomic-*` fields can be updated through
 * shared handles with atomic operations (see {@link AtomicCell}).
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

type AtomicKind = 'atomic-u32' | 'atomic-i32';

/**
 * A metadata schema: field name → kind. At most `FRAME_METADATA_MAX_SIZE` (40) bytes of fields;
 * names are identifiers (not `toJSON`, `constructor`, ...).
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

/** What every metadata view has besides its fields. */
export interface MetaViewBase {
  /** A plain snapshot of the fields (64-bit fields as decimal strings); `JSON.stringify` uses it. */
  toJSON(): Record<string, unknown>;
}

/** Metadata as seen through a shared handle: read-only, except atomic fields' operations. */
export type MetaView<S extends Schema> = { readonly [K in keyof S]: FieldValue<S[K]> } & MetaViewBase;

/** Metadata as seen through a `UniqueFrame`: every plain field is writable. */
export type MetaMut<S extends Schema> = {
  -readonly [K in keyof S as S[K] extends AtomicKind ? never : K]: FieldValue<S[K]>;
} & { readonly [K in keyof S as S[K] extends AtomicKind ? K : never]: AtomicCell } & MetaViewBase;

/**
 * Initial metadata: any subset of the fields; missing ones start at zero (false, null). A value
 * that does not fit its field is `FrameUseError('BadValue')`, before anything is allocated.
 *
 * @example
 * ```ts
 * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
 * const init: MetaInit<typeof PageMeta.schema> = { owner: 3 };
 * const page = sys.allocFrame(PageMeta, init);
 * console.log(page.meta.owner, page.meta.dirty, page.meta.hits.load()); // 3 false 0
 * page.drop();
 * ```
 */
export type MetaInit<S extends Schema> = { [K in keyof S]?: FieldInit<S[K]> };

/**
 * An atomic metadata field (`atomic-u32` / `atomic-i32`): `Atomics` on the slot's word, usable
 * through shared handles in every worker. Each method is the `Atomics` function of that name;
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

/** Initial metadata of some type, as the internals pass it around. */
export type AnyInit = object | undefined;

/** @internal An `onDrop` of some type. */
export type AnyOnDrop = (meta: never, frame: never) => void;

/** What a view needs from the handle it belongs to. */
export interface ViewOwner {
  readonly paddr: Paddr;
  /** @internal */
  readonly _live: boolean;
  /** @internal The system the handle belongs to: closed, it refuses every use. */
  readonly _sys: { readonly _closed: boolean };
  /** @internal Why the view stopped working, when `Dropped` does not say it (a stale cursor's). */
  readonly _deadError?: () => FrameUseError;
}

/** @internal Where a field lives and how it is read and written. */
interface FieldLayout {
  readonly name: string;
  readonly kind: FieldKind;
  readonly offset: number; // bytes from the storage start
  readonly size: number;
}

const KIND_SIZE: Record<FieldKind, number> = {
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
 * A kind of frame metadata: its name, fields and layout in the slot, whether its frames are
 * untyped, and this worker's `onDrop`. Made by `defineMeta`; the name identifies it in every
 * worker (each defines it, with the same schema) and is registered in a region at first use.
 *
 * @example
 * ```ts
 * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
 * console.log(PageMeta.name, PageMeta.size, PageMeta.untyped); // app.page 9 false
 * const again = defineMeta('app.page', { hits: 'atomic-u32', dirty: 'bool', owner: 'u32' });
 * console.log(again === PageMeta); // true: the same fields, in any order, are the same type
 * ```
 */
export class MetaType<S extends Schema = Schema, U extends boolean = boolean> {
  /**
   * Bytes of slot storage the fields use (at most `FRAME_METADATA_MAX_SIZE`).
   *
   * @example
   * ```ts
   * console.log(defineMeta('app.pair', { a: 'f64', b: 'u8' }).size, Untyped.size); // 9 0
   * ```
   */
  readonly size: number;
  /** @internal Fields in storage order. */
  readonly _fields: readonly FieldLayout[];
  /** @internal The canonical description stored in every region's type registry. */
  readonly _descriptor: string;
  /** @internal This worker's `onDrop`, if any (stored loosely: `OnDrop<S, U>` is invariant). */
  _onDrop: AnyOnDrop | undefined;
  /** @internal The region this type was last used with, and its id there (a one-entry cache). */
  _region: Region | undefined = undefined;
  /** @internal */
  _id = 0;
  /** @internal The regions this worker knows this type in, and its id in each (held weakly: a
   *  region nobody uses any more is not kept alive by its types). */
  readonly _ids = new WeakMap<Region, number>();
  /** @internal The same regions, weakly, to visit them (`defineMeta` with an `onDrop`). */
  readonly _regions = new Set<WeakRef<Region>>();
  /** @internal Prototypes of the read-only and the mutable views. */
  readonly _viewProto: object;
  /** @internal */
  readonly _mutProto: object;

  /** @internal Use `defineMeta`. */
  constructor(
    /**
     * The name given to `defineMeta`: what identifies the type in every worker and region.
     *
     * @example
     * ```ts
     * const frame = sys.allocFrame();
     * console.log(frame.metaType.name); // pageframe.untyped
     * frame.drop();
     * ```
     */
    readonly name: string,
    /**
     * The fields, as given to `defineMeta`.
     *
     * @example
     * ```ts
     * console.log(defineMeta('app.pair', { a: 'f64', b: 'u8' }).schema); // { a: 'f64', b: 'u8' }
     * ```
     */
    readonly schema: S,
    /**
     * Whether frames of this type expose their bytes (`bytes`, `reader`, `writer`, `fill`).
     *
     * @example
     * ```ts
     * console.log(Untyped.untyped, defineMeta('app.pair', { a: 'f64', b: 'u8' }).untyped); // true false
     * ```
     */
    readonly untyped: U,
  ) {
    const fields = layoutFields(name, schema);
    const last = fields[fields.length - 1];
    this.size = last ? last.offset + last.size : 0;
    if (this.size > FRAME_METADATA_MAX_SIZE) {
      throw new MetaTypeError(
        'TooLarge',
        `metadata type '${name}' needs ${this.size} bytes; a slot holds ${FRAME_METADATA_MAX_SIZE}`,
      );
    }
    this._fields = fields;
    this._descriptor = JSON.stringify({
      n: name,
      u: untyped ? 1 : 0,
      f: fields.map((f) => [f.name, f.kind]),
    });
    this._viewProto = makeProto(fields, false);
    this._mutProto = makeProto(fields, true);
  }

  /** @internal A read-only view of the storage at byte `at`, owned by `owner`. */
  _view(owner: ViewOwner, mem: MemoryViews, at: number): object {
    const v = Object.create(this._viewProto) as ViewState;
    v._$h = owner;
    v._$m = mem;
    v._$b = at;
    return v;
  }

  /** @internal A writable view (for `UniqueFrame.metaMut`). */
  _mutView(owner: ViewOwner, mem: MemoryViews, at: number): object {
    const v = Object.create(this._mutProto) as ViewState;
    v._$h = owner;
    v._$m = mem;
    v._$b = at;
    return v;
  }

  /**
   * @internal Checks `init` against the fields, throwing `FrameUseError('BadValue')` before
   * anything is written. Call before claiming a slot so a bad value changes nothing.
   */
  _validate(init: AnyInit): void {
    if (init === undefined || init === null) return;
    if (typeof init !== 'object') {
      throw new FrameUseError('BadValue', `metadata for '${this.name}' must be an object`);
    }
    for (const key in init) {
      const f = this._fields.find((x) => x.name === key);
      if (f === undefined) {
        throw new FrameUseError('BadValue', `'${this.name}' has no field '${key}'`);
      }
      const value = (init as Record<string, unknown>)[key];
      if (value !== undefined) checkValue(this.name, f, value);
    }
  }

  /**
   * @internal Writes `init` (already validated) into zeroed storage at byte `at`.
   */
  _write(mem: MemoryViews, at: number, init: AnyInit): void {
    if (init === undefined || init === null) return;
    for (const f of this._fields) {
      const value = (init as Record<string, unknown>)[f.name];
      if (value !== undefined) writeField(mem, at + f.offset, f.kind, value);
    }
  }

  /** @internal Zeroes the storage bytes this type uses at byte `at`. */
  _clear(mem: MemoryViews, at: number): void {
    const size = this.size;
    if (size !== 0) mem.u8.fill(0, at, at + size);
  }

  /** @internal Reads all fields into a plain object (for `toJSON` and debugging). */
  _snapshot(mem: MemoryViews, at: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const f of this._fields) out[f.name] = readPlain(mem, at + f.offset, f.kind);
    return out;
  }

  /** `MetaType(name)`, for logs. */
  toString(): string {
    return `MetaType(${this.name})`;
  }

  /** @internal What `console.log` shows (Node, Deno, Bun): `MetaType(app.page, 8 bytes, typed)`. */
  [INSPECT](): string {
    return `MetaType(${this.name}, ${this.size} bytes, ${this.untyped ? 'untyped' : 'typed'})`;
  }
}

/**
 * Any metadata type: a frame's type when it is known only at run time (`Frame.fromInUse`,
 * `Frame.fromRaw` without a type); `tryAs` gets the static type back.
 *
 * @example
 * ```ts
 * const Page = defineMeta('app.any-page', { n: 'u32' });
 * const page = sys.allocFrame(Page, { n: 5 });
 * const some: Frame<AnyMeta> = Frame.fromInUse(sys, page.paddr); // +1 reference, type unknown
 * console.log(some.metaType === Page); // true
 * const typed = some.tryAs(Page); // Frame<typeof Page>, or null; consumes `some` on success
 * console.log(typed?.meta.n); // 5
 * typed?.drop();
 * page.drop();
 * ```
 */
export type AnyMeta = MetaType<Schema, boolean>;
/** A metadata type whose frames expose their bytes. */
export type UntypedMeta = MetaType<Schema, true>;

/** The internal fields of a view object. */
interface ViewState {
  _$h: ViewOwner;
  _$m: MemoryViews;
  _$b: number;
}

/** Types defined in this worker, by name: the same name gives the same object. */
const definedTypes = new Map<string, MetaType>();


/**
 * @internal The local type for a descriptor read from a region's registry: the type defined in
 * this worker under that name, or a new one (with no onDrop) if this worker never defined it.
 */
function typeFromDescriptor(descriptor: string): MetaType {
  const d = JSON.parse(descriptor) as { n: string; u: number; f: [string, FieldKind][] };
  const known = definedTypes.get(d.n);
  if (known !== undefined && known._descriptor === descriptor) return known;
  const schema: Record<string, FieldKind> = {};
  for (const [k, v] of d.f) schema[k] = v;
  const type = new MetaType(d.n, schema, d.u === 1);
  if (known === undefined) definedTypes.set(d.n, type);
  return type;
}

/**
 * Refuses a metadata type argument that is not a `MetaType` (made by `defineMeta`):
 * `FrameUseError('BadValue')`, never a raw `TypeError`.
 */
export function checkMeta(meta: unknown, what = 'meta'): asserts meta is AnyMeta {
  if (!(meta instanceof MetaType)) throw new FrameUseError('BadValue', `${what} must be a metadata type (defineMeta), not ${describe(meta)}`);
}

/**
 * @internal `defineMeta` without its options: the type named `name` with fields `schema`, the
 * same object for the same name and fields (`Conflict` for other fields; `TooLarge`,
 * `BadSchema` from the layout).
 */
export function defineType<S extends Schema, U extends boolean>(name: string, schema: S, untyped: U): MetaType<S, U> {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) {
    throw new MetaTypeError('BadSchema', `a type name is a string of 1..${MAX_NAME} characters`);
  }
  if (schema === null || typeof schema !== 'object') {
    throw new MetaTypeError('BadSchema', `the schema of '${name}' must be an object`);
  }
  const fresh = new MetaType<S, U>(name, schema, untyped);
  const existing = definedTypes.get(name) as MetaType<S, U> | undefined;
  if (existing === undefined) {
    definedTypes.set(name, fresh as unknown as MetaType);
    return fresh;
  }
  if (existing._descriptor !== fresh._descriptor) {
    throw new MetaTypeError('Conflict', `'${name}' is already defined as ${existing._descriptor}, not ${fresh._descriptor}`);
  }
  return existing;
}

// ---------------------------------------------------------------------------------------------
// Types in regions: each region's registry (region/registry.ts) maps a type's descriptor to an id,
// the same in every worker; this worker keeps the MetaType of each id it has seen, per region.
// ---------------------------------------------------------------------------------------------

/** This worker's types by id, per region (index 0 unused). */
const localTypes = new WeakMap<Region, (MetaType | undefined)[]>();

/** The last region asked about and its types: a one-entry cache in front of the WeakMap (a
 *  program mostly uses one region, and `typeById` is on every slow last drop). */
let lastRegion: Region | undefined;
let lastTypes: (MetaType | undefined)[] = [];

function typesOf(r: Region): (MetaType | undefined)[] {
  if (r === lastRegion) return lastTypes;
  let types = localTypes.get(r);
  if (types === undefined) localTypes.set(r, (types = []));
  lastRegion = r;
  lastTypes = types;
  return types;
}

/** Caches `id` as `type`'s id in `r` (both ways). */
function remember(r: Region, type: MetaType, id: number): number {
  if (!type._ids.has(r)) rememberId(type, r, id);
  typesOf(r)[id] ??= type;
  type._region = r;
  type._id = id;
  return id;
}

/**
 * The id of `type` in region `r`, registering it on first use (`MetaTypeError` `Conflict`,
 * `TooLarge`, `RegistryFull` if it cannot be).
 */
export function typeIdOf(r: Region, type: MetaType): number {
  if (type._region === r) return type._id;
  const id = type._ids.get(r) ?? registerType(r, type._descriptor, type.name, type.size, type.untyped, type._onDrop !== undefined);
  return remember(r, type, id);
}

/**
 * The id of `type` in `r` if it is registered there, else 0; never registers it (for type
 * tests, which must not change the region).
 */
export function lookupTypeId(r: Region, type: MetaType): number {
  if (type._region === r) return type._id;
  const id = type._ids.get(r) ?? findType(r, type._descriptor);
  return id === 0 ? 0 : remember(r, type, id);
}

/**
 * This worker's type for id `id` of region `r`, made from the registry's descriptor for a type
 * this worker never defined (it then has no `onDrop` here). `InvariantError` if no type has that
 * id: a slot naming it is corrupt.
 */
export function typeById(r: Region, id: number): MetaType {
  const known = typesOf(r)[id];
  if (known !== undefined) return known;
  const descriptor = registeredDescriptor(r, id);
  if (descriptor === undefined) throw new InvariantError('type registry', `no metadata type with id ${id} in this region`);
  const type = typeFromDescriptor(descriptor);
  if (!type._ids.has(r)) rememberId(type, r, id);
  typesOf(r)[id] = type;
  return type;
}

/** Records type `type`'s id `id` in region `r` (weakly; dead entries of the visit set go now). */
function rememberId(type: MetaType, r: Region, id: number): void {
  type._ids.set(r, id);
  for (const ref of type._regions) if (ref.deref() === undefined) type._regions.delete(ref);
  type._regions.add(new WeakRef(r));
}

/** The live regions type `type` has an id in, with the id. */
export function idsOf(type: MetaType): [Region, number][] {
  const out: [Region, number][] = [];
  for (const ref of type._regions) {
    const r = ref.deref();
    const id = r === undefined ? undefined : type._ids.get(r);
    if (r !== undefined && id !== undefined) out.push([r, id]);
  }
  return out;
}

/** Forgets region `r` (closed in this worker): its types' ids there. */
export function forgetRegion(r: Region): void {
  for (const type of typesOf(r)) {
    if (type === undefined) continue;
    type._ids.delete(r);
    for (const ref of type._regions) if (ref.deref() === r) type._regions.delete(ref);
    if (type._region === r) {
      type._region = undefined;
      type._id = 0;
    }
  }
  localTypes.delete(r);
  if (lastRegion === r) {
    lastRegion = undefined;
    lastTypes = [];
  }
}

/**
 * The default untyped metadata (the kernel's `()`): no fields, bytes exposed. What
 * `sys.allocFrame()` and `sys.allocSegment(n)` give without a type.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame(); // a Frame<Untyped>
 * console.log(frame.metaType === Untyped, Untyped.name, Untyped.size); // true pageframe.untyped 0
 * frame.drop();
 * ```
 */
export const Untyped: Untyped = defineType('pageframe.untyped', {}, true);
/**
 * The type of {@link Untyped}: `Frame<Untyped>` is a frame with no metadata fields and its bytes
 * exposed. An interface, so that signatures (and the API reference) say `Frame<Untyped>`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a name for the type, nothing added
export interface Untyped extends MetaType<Record<never, never>, true> {}

// ---------------------------------------------------------------------------------------------
// Layout and field access.
// ---------------------------------------------------------------------------------------------

function layoutFields(typeName: string, schema: Schema): FieldLayout[] {
  const names = Object.keys(schema);
  for (const n of names) {
    if (!FIELD_NAME.test(n) || n.startsWith('_$') || RESERVED_FIELDS.has(n)) {
      throw new MetaTypeError('BadSchema', `'${typeName}': '${n}' is not a usable field name`);
    }
    if (!Object.prototype.hasOwnProperty.call(KIND_SIZE, schema[n])) {
      throw new MetaTypeError(
        'BadSchema',
        `'${typeName}.${n}': unknown kind '${describe(schema[n])}' (one of ${Object.keys(KIND_SIZE).join(', ')})`,
      );
    }
  }
  // Canonical order: largest alignment first, then by name. No padding is ever needed, and the
  // same fields give the same layout in every worker whatever order they were written in.
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
 * Writes one field of a slot's metadata storage. OWNER: the slot is busy (being set up) or held
 * by a `UniqueFrame` (`metaMut`): this worker's alone, so plain stores; shared views refuse
 * writes but to atomic fields, which `makeAtomicCell` writes with `Atomics`.
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

function deadView(v: ViewState): FrameUseError {
  if (v._$h._sys._closed) return new FrameUseError('Closed', `metadata of frame ${hex(v._$h.paddr)} used after its FrameSystem was closed`);
  if (v._$h._deadError !== undefined) return v._$h._deadError();
  return new FrameUseError('Dropped', `metadata of frame ${hex(v._$h.paddr)} used after its handle was dropped or consumed`);
}

/**
 * An atomic field's cell. ORDER: every access is an `Atomics` call, so handles in several
 * workers may update the field at once (it carries no happens-before edge for other fields).
 */
function makeAtomicCell(v: ViewState, arr: Int32Array | Uint32Array, i: number): AtomicCell {
  const live = (): void => {
    if (!v._$h._live || v._$h._sys._closed) throw deadView(v);
  };
  const cell: AtomicCell & { [INSPECT](): string } = {
    // What console.log shows: `AtomicCell(7)`, the value now (or why it cannot be read).
    [INSPECT]: () => inspectSafely(() => `AtomicCell(${(live(), Atomics.load(arr, i))})`, () => 'AtomicCell(dropped)'),
    load: () => (live(), Atomics.load(arr, i)),
    store: (x) => (live(), Atomics.store(arr, i, x)),
    add: (x) => (live(), Atomics.add(arr, i, x)),
    sub: (x) => (live(), Atomics.sub(arr, i, x)),
    and: (x) => (live(), Atomics.and(arr, i, x)),
    or: (x) => (live(), Atomics.or(arr, i, x)),
    xor: (x) => (live(), Atomics.xor(arr, i, x)),
    exchange: (x) => (live(), Atomics.exchange(arr, i, x)),
    compareExchange: (e, x) => (live(), Atomics.compareExchange(arr, i, e, x)),
  };
  return cell;
}

/** Builds the prototype of a view: one accessor per field, reading shared memory live. */
function makeProto(fields: readonly FieldLayout[], writable: boolean): object {
  const proto: Record<string, unknown> = {};
  for (const f of fields) {
    const { offset, kind } = f;
    const atomic = kind === 'atomic-u32' || kind === 'atomic-i32';
    const get = atomic
      ? function (this: ViewState) {
          if (!this._$h._live || this._$h._sys._closed) throw deadView(this);
          const arr = kind === 'atomic-u32' ? this._$m.u32 : this._$m.i32;
          return makeAtomicCell(this, arr, (this._$b + offset) >> 2);
        }
      : function (this: ViewState) {
          if (!this._$h._live || this._$h._sys._closed) throw deadView(this);
          return readPlain(this._$m, this._$b + offset, kind);
        };
    const set =
      writable && !atomic
        ? function (this: ViewState, value: unknown) {
            if (!this._$h._live || this._$h._sys._closed) throw deadView(this);
            checkValue('metadata', f, value);
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
        () => `{ metadata of frame ${hex(this._$h.paddr)}: ${this._$h._sys._closed ? 'system closed' : 'dropped'} }`,
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
