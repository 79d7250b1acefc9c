/**
 * `defineMeta`: how a program declares a metadata type (the kernel's `impl_frame_meta_for!`),
 * with its `onDrop` (the kernel's `AnyFrameMeta::on_drop`). The type itself, its layout and
 * views are `meta-type.ts`'s; this file adds what needs the handles (`onDrop` gets a `FrameRef`).
 */
import { markOnDrop } from '../region/registry.js';
import type { FrameRef } from './frame.js';
import { defineType, idsOf, type AnyOnDrop, type MetaType, type MetaView, type Schema } from './meta-type.js';

/**
 * Called on the last drop of a frame of this type (the kernel's `on_drop`), while the slot is
 * busy: no other worker can get a reference to the frame. `frame` is valid until it returns (it
 * cannot be cloned). It runs in the worker that makes the last drop if that worker defined the
 * type with this callback; otherwise the frame waits for one that did (see `drainDeferred`).
 *
 * @example
 * ```ts
 * const onDrop: OnDrop<{ owner: 'u32' }, true> = (meta, frame) => {
 *   console.log(meta.owner, frame.bytes()[0]); // 4 9
 * };
 * const Owned = defineMeta('app.owned', { owner: 'u32' }, { untyped: true, onDrop });
 * const frame = sys.allocFrame(Owned, { owner: 4 });
 * frame.bytes()[0] = 9;
 * frame.drop(); // runs onDrop, then frees the frame
 * ```
 */
export type OnDrop<S extends Schema, U extends boolean> = (
  meta: MetaView<S>,
  frame: FrameRef<MetaType<S, U>>,
) => void;

/**
 * How `defineMeta` defines a type besides its fields.
 *
 * @example
 * ```ts
 * const options: DefineMetaOptions<{ len: 'u16' }, true> = {
 *   untyped: true, // its frames expose their bytes
 *   onDrop: (meta, frame) => console.log(meta.len, frame.reader().read(meta.len)), // 3 Uint8Array(3) [ 1, 2, 3 ]
 * };
 * const Message = defineMeta('app.message', { len: 'u16' }, options);
 * const message = sys.allocFrame(Message, { len: 3 });
 * message.bytes().set([1, 2, 3]);
 * message.drop();
 * ```
 */
export interface DefineMetaOptions<S extends Schema, U extends boolean> {
  /** Untyped frames expose their bytes (`bytes`, `reader`, `writer`, `fill`); typed ones do not. */
  untyped?: U;
  /** Runs on the last drop, in a worker that defined the type with this callback. */
  onDrop?: OnDrop<S, U>;
}

/**
 * Defines (or looks up) the metadata type `name` with fields `schema`.
 *
 * The name identifies the type in every worker and region: defining it again with the same
 * schema returns the same type (and sets this worker's `onDrop` if given); with another schema it
 * throws `MetaTypeError('Conflict')`. A schema that needs more than 40 bytes throws
 * `MetaTypeError('TooLarge')` here, at definition; an unknown kind or a bad name,
 * `MetaTypeError('BadSchema')`.
 *
 * @example
 * ```ts
 * const PageMeta = defineMeta('app.page', { owner: 'u32', dirty: 'bool', hits: 'atomic-u32' });
 * const frame = sys.allocFrame(PageMeta, { owner: 7 });
 * frame.meta.hits.add(1); // atomic fields work through shared handles
 * console.log(frame.meta.owner, frame.meta.hits.load()); // 7 1
 * frame.drop();
 * ```
 */
export function defineMeta<const S extends Schema, U extends boolean = false>(
  name: string,
  schema: S,
  options: DefineMetaOptions<S, U> = {},
): MetaType<S, U> {
  const type = defineType(name, schema, (options.untyped ?? false) as U);
  if (options.onDrop !== undefined) {
    type._onDrop = options.onDrop as AnyOnDrop;
    // Regions where the type is registered already learn that it has an onDrop now, so a last
    // drop in a worker without it defers the frame instead of skipping the callback.
    for (const [r, id] of idsOf(type)) markOnDrop(r, id);
  }
  return type;
}
