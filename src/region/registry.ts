/**
 * The type registry's entries, one of TYPE_ENTRY_BYTES per type id (from 1), from H_REGISTRY.
 *
 *   entry: state (0 empty, 1 ready) | flags | descriptor length | storage size | descriptor (UTF-8)
 */
import { H_REG_COUNT, TYPE_ENTRY_BYTES } from './geometry.js';
import { MAX_TYPES } from '../base/limits.js';
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

/**
 * How many type ids the region has registered (ids 1..that), read atomically: racy, as a type
 * may be registered in another worker at any moment. A header word beyond 0..MAX_TYPES (a broken
 * header) is clamped, so a caller can size a table by it.
 */
export function registeredCount(r: Region): number {
  return Math.min(Math.max(Atomics.load(r.i32, H_REG_COUNT), 0), MAX_TYPES);
}
