/**
 * The `MetaSlot`: 16 words a frame, in the metadata region. The first 6 are pageframe's; the
 * last 10 (40 bytes) are the metadata storage, 8-byte aligned, so a `f64`/`u64` field is
 * naturally aligned.
 *
 *   slot: count | type id | list id | next | prev (owner) | aux | storage × 10
 */
import { META_SLOT_SIZE } from '../base/limits.js';

/**
 * The same states as stored in the slot's `Int32` word (JavaScript `Atomics` on `Int32Array`
 * keep small counts as small integers, which is what makes them fast). Busy is 0 in both.
 */
export const RC_UNUSED = -1;

export const RC_UNIQUE = -2;

/** A slot's count word as a word, for messages: unused, unique, busy, or `count n`. */
export function stateName(rc: number): string {
  return rc === RC_UNUSED ? 'unused' : rc === RC_UNIQUE ? 'unique' : rc === 0 ? 'busy' : `count ${rc >>> 0}`;
}

export const SLOT_WORDS = META_SLOT_SIZE / 4;

export const SLOT_SHIFT = 4; // log2(SLOT_WORDS)

/** The atomic reference count (see `RC_*`). */
export const S_REF = 0;

/** The registered metadata type id (0 while unused): the kernel's vtable pointer. */
export const S_TYPE = 1;

/** The id of the linked list holding the frame, 0 if none: the kernel's `in_list`. */
export const S_LIST = 2;

/** Link words: list next/prev while in a list; the buddy allocator's free-list links while the
 *  frame heads a free chunk (both are exclusive: a free frame is unused, a listed one unique);
 *  `S_NEXT` links the deferred-drop stack. While the slot is busy, and after a teardown until
 *  the frame is given back, `S_PREV` records the worker that made it so (`S_OWNER`), which is how
 *  `reclaimWorker` tells the frames a dead worker left half done from other workers' work. */
export const S_NEXT = 3;

export const S_PREV = 4;

export const S_OWNER = S_PREV;

/** Auxiliary word. While the frame is free in the buddy allocator: `AUX_FREE`, and on the head
 *  frame of a free chunk also `AUX_HEAD | order`. While the slot is held in checked mode: the
 *  number of forgotten references (`intoRaw`). While busy on the deferred-drop stack: 1 if the
 *  frame goes back to the allocator after its teardown. Otherwise 0. */
export const S_AUX = 5;

/** First word of the 40-byte metadata storage. */
export const S_STORAGE = 6;

export const STORAGE_BYTE_OFFSET = S_STORAGE * 4;

/** Flag in `S_AUX` of every frame free in the buddy allocator (the ground truth it is rebuilt
 *  from when a worker died inside it). */
export const AUX_FREE = 0x4000_0000;

/** Flag in `S_AUX` of the head frame of a free chunk; the low bits hold the chunk's order. */
export const AUX_HEAD = 0x2000_0000;

export const AUX_ORDER_MASK = 0xff;
