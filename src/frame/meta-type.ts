/**
 * Metadata types: `defineMeta` turns a schema of fields into a `MetaType` that knows how its
 * values are laid out in a slot's 40-byte storage, and makes the views through which handles read
 * (`meta`) and write (`metaMut`) them in shared memory. This is the kernel's `AnyFrameMeta`
 * (with `on_drop` and `is_untyped`) and its layout check `check_frame_meta_layout!`.
 */
import { describe } from '../base/args.js';
import { FrameUseError, InvariantError, MetaTypeError } from '../base/errors.js';
import { FRAME_METADATA_MAX_SIZE } from '../base/limits.js';
import { INSPECT } from '../base/inspect.js';
import { findType, registerType, registeredDescriptor } from '../region/registry.js';
import type { Region } from '../region/region.js';
import type { MemoryViews } from '../shm/views.js';
import { checkDefinition, checkInit, defineOnce, layoutFields, makeProto, makeView, writeInit } from './fields.js';
import type { AtomicCell, AtomicKind, FieldInit, FieldKind, FieldLayout, FieldValue, Schema, ViewOwner } from './fields.js';

export type { AtomicCell, FieldInit, FieldKind, FieldValue, Schema, ViewOwner } from './fields.js';


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


/** Initial metadata of some type, as the internals pass it around. */
export type AnyInit = object | undefined;

/** @internal An `onDrop` of some type. */
export type AnyOnDrop = (meta: never, frame: never) => void;


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
    this._viewProto = makeProto(fields, false, name, 'metadata of frame');
    this._mutProto = makeProto(fields, true, name, 'metadata of frame');
  }

  /** @internal A read-only view of the storage at byte `at`, owned by `owner`. */
  _view(owner: ViewOwner, mem: MemoryViews, at: number): object {
    return makeView(this._viewProto, owner, mem, at);
  }

  /** @internal A writable view (for `UniqueFrame.metaMut`). */
  _mutView(owner: ViewOwner, mem: MemoryViews, at: number): object {
    return makeView(this._mutProto, owner, mem, at);
  }

  /**
   * @internal Checks `init` against the fields, throwing `FrameUseError('BadValue')` before
   * anything is written. Call before claiming a slot so a bad value changes nothing.
   */
  _validate(init: AnyInit): void {
    checkInit(this.name, this._fields, init);
  }

  /** @internal Writes `init` (already validated) into zeroed storage at byte `at`. */
  _write(mem: MemoryViews, at: number, init: AnyInit): void {
    if (init !== undefined && init !== null) writeInit(mem, at, this._fields, init, false);
  }

  /** @internal Zeroes the storage bytes this type uses at byte `at`. */
  _clear(mem: MemoryViews, at: number): void {
    const size = this.size;
    if (size !== 0) mem.u8.fill(0, at, at + size);
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
  checkDefinition(name, schema);
  return defineOnce(definedTypes, new MetaType<S, U>(name, schema, untyped) as unknown as MetaType) as unknown as MetaType<S, U>;
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
