/**
 * The type registry's entries, one of TYPE_ENTRY_BYTES per type id (from 1), from H_REGISTRY.
 *
 *   entry: state (0 empty, 1 ready) | flags | descriptor length | storage size | descriptor (UTF-8)
 */
import { H_REGISTRY, TYPE_ENTRY_BYTES, TYPE_ENTRY_WORDS } from './geometry.js';
import type { Region } from './region.js';

/** Type entry words: state (0 empty, 1 ready), flags, descriptor length in bytes, storage size. */
export const T_STATE = 0;

export const T_FLAGS = 1;

export const T_DESC_LEN = 2;

export const T_SIZE = 3;

export const T_DESC = 4; // first word of the UTF-8 descriptor

export const TYPE_DESC_MAX = TYPE_ENTRY_BYTES - T_DESC * 4;

export const TYPE_FLAG_UNTYPED = 1;

export const TYPE_FLAG_ON_DROP = 2;

/** Word index of the registry entry of type `id` (ids start at 1). */
export function entryWord(id: number): number {
  return H_REGISTRY + (id - 1) * TYPE_ENTRY_WORDS;
}

/**
 * Whether any worker registered an `onDrop` for type `id` in this region. A plain read: the flag
 * is set once, by whoever defines the onDrop (`markOnDrop`); a drop racing with that definition
 * may miss it, as it may in any order of the two.
 */
export function hasOnDrop(r: Region, id: number): boolean {
  return (r.i32[entryWord(id) + T_FLAGS] & TYPE_FLAG_ON_DROP) !== 0;
}

/** Marks type `id` as having an `onDrop` in some worker. ORDER: an atomic or, set once, never cleared. */
export function markOnDrop(r: Region, id: number): void {
  Atomics.or(r.i32, entryWord(id) + T_FLAGS, TYPE_FLAG_ON_DROP);
}
