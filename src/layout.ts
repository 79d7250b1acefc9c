/**
 * The memory map of a pageframe region: where the header, the metadata slots and the frames live,
 * and what every 32-bit word of the header and of a `MetaSlot` means.
 *
 * A region starts at `offset` in a shared buffer and is laid out as
 * `[ header | metadata region (one 64-byte MetaSlot per frame) | padding | frame region ]`.
 * The frame region starts on a 4 KiB boundary of the buffer, so frames are page-aligned for
 * WebAssembly too. Everything a worker needs to use the region is in the region itself.
 *
 * All word indices below are in units of `Int32Array` elements, relative to the region start.
 */
import { MAX_LISTS, MAX_TYPES, MAX_WORKERS, META_SLOT_SIZE } from './base/limits.js';
import { PAGE_SIZE, alignUp } from './base/units.js';

/**
 * The same states as stored in the slot's `Int32` word (JavaScript `Atomics` on `Int32Array`
 * keep small counts as small integers, which is what makes them fast). Busy is 0 in both.
 */
export const RC_UNUSED = -1;
export const RC_UNIQUE = -2;

// ---------------------------------------------------------------------------------------------
// MetaSlot: 16 words. The first 6 are pageframe's; the last 10 (40 bytes) are the metadata
// storage, 8-byte aligned, so a `f64`/`u64` field is naturally aligned.
// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Header (word indices from the region start).
// ---------------------------------------------------------------------------------------------
/** "PFRM" in little-endian. */
export const MAGIC = 0x4d524650;
/** Bumped whenever the layout below changes; attach refuses another version. */
export const LAYOUT_VERSION = 3;

export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_NFRAMES = 2;
export const H_FLAGS = 3;
export const H_HEADER_BYTES = 4;
export const H_META_OFFSET = 5; // bytes from the region start
export const H_FRAME_OFFSET = 6; // bytes from the region start
export const H_SLOT_BYTES = 7; // META_SLOT_SIZE, recorded so attach can check it
export const H_PAGE_SIZE = 8;
export const H_NEXT_LIST_ID = 9;
export const H_NEXT_WORKER_ID = 10;
/** Head of the deferred-drop stack (frame index + 1; 0 when empty), guarded by H_DEFER_LOCK. */
export const H_DEFER_HEAD = 11;
export const H_DEFER_LOCK = 12; // 2 words: owner, waiters
/** Header flags. */
export const FLAG_CHECKED = 1;

/** Buddy allocator: lock (2 words), free-frame count, then one list head per order. */
export const H_BUDDY_LOCK = 16;
export const H_BUDDY_FREE = 18;
export const H_BUDDY_HEADS = 20;
/** Orders 0..MAX_ORDER-1: chunks of up to 2^(MAX_ORDER-1) frames, more than MAX_FRAMES. */
export const MAX_ORDER = 21;

/** Type registry: lock (2 words) and the number of registered types. */
export const H_REG_LOCK = 48;
export const H_REG_COUNT = 50;

/** Worker table: one record per attached worker (state word, then room for its caches). */
export const H_WORKERS = 64;
export const WORKER_WORDS = 128;
/** Worker record word 0: 0 = free, 1 = attached, 2 = exited (its reclaim is not done yet). */
export const W_STATE = 0;
export const WORKER_FREE = 0;
export const WORKER_ATTACHED = 1;
/**
 * The worker exited and `reclaimWorker` took its locks over, but could not get the allocator
 * lock (held by a worker that has most likely exited too): its frames come back at the next
 * reclaim, in whichever worker. Its id stays taken until then.
 */
export const WORKER_EXITED = 2;
/** Set by another worker that needs this worker's cached frames back (before NoMemory). */
export const W_DRAIN = 1;
/**
 * The operation journal: the frames of the handle operation in progress, so that
 * `reclaimWorker` can finish or roll it back if the worker dies. `W_OP_START` is the first
 * frame's index + 1 (0: none); `W_OP_COUNT` is `kind << OP_KIND_SHIFT | nframes`, the kind
 * saying what the worker was doing with the frames (see `OP_*`).
 */
export const W_OP_START = 2;
export const W_OP_COUNT = 3;
export const OP_KIND_SHIFT = 24;
export const OP_COUNT_MASK = (1 << OP_KIND_SHIFT) - 1;
/** Frames this worker owns alone: taken from the allocator (being claimed and published), or
 *  raw frames being given back to it. */
export const OP_OWNED = 1;
/** References being dropped; frames whose last reference it was go back to the allocator. */
export const OP_DROP = 2;
/** Raw-owned frames being claimed or reset (`fromUnused`, `resetAsUnused`): never freed. */
export const OP_RAW = 3;
/** The allocator journal: runs of frames moving between this worker's caches and the buddy
 *  allocator. `W_AJ_COUNT` runs of `[index, nframes]` from `W_AJ_RUNS`. */
export const W_AJ_COUNT = 4;
export const W_AJ_RUNS = 5;
export const AJ_MAX_RUNS = 20;
/** Per-worker caches of free runs of 1..4 frames (LIFO stacks of frame indices): for class k,
 *  the count is at `W_CACHE + CACHE_BASE[k]` and the entries follow it. */
export const W_CACHE = W_AJ_RUNS + 2 * AJ_MAX_RUNS;
export const CACHE_CAPACITY = [0, 32, 8, 8, 8] as const;
export const CACHE_BASE = [0, 0, 33, 42, 51] as const;
/** The list journal: the linked-list change in progress (`LOP_*` kind, list index, frame,
 *  prev, next, new size), every write of which is absolute, so `reclaimWorker` can redo it. */
export const W_LOP = 105;
export const LOP_LINK = 1;
export const LOP_UNLINK = 2;
/** The record's generation, raised on every attach: a lock holds its owner's token
 *  `gen << TOKEN_ID_BITS | id`, so a lock of a dead worker is told apart from one of the worker
 *  that later attached with the same id. */
export const W_GEN = WORKER_WORDS - 1;
export const TOKEN_ID_BITS = 7;
export const GEN_MASK = 0xff_ffff;

/** Type registry entries: a fixed-size record per type id (ids start at 1). */
export const H_REGISTRY = H_WORKERS + MAX_WORKERS * WORKER_WORDS;
export const TYPE_ENTRY_BYTES = 512;
export const TYPE_ENTRY_WORDS = TYPE_ENTRY_BYTES / 4;
/** Type entry words: state (0 empty, 1 ready), flags, descriptor length in bytes, storage size. */
export const T_STATE = 0;
export const T_FLAGS = 1;
export const T_DESC_LEN = 2;
export const T_SIZE = 3;
export const T_DESC = 4; // first word of the UTF-8 descriptor
export const TYPE_DESC_MAX = TYPE_ENTRY_BYTES - T_DESC * 4;
export const TYPE_FLAG_UNTYPED = 1;
export const TYPE_FLAG_ON_DROP = 2;

/** Linked-list heads: one entry per list (`LinkedList`), ids 1..MAX_LISTS. */
export const H_LISTS = H_REGISTRY + MAX_TYPES * TYPE_ENTRY_WORDS;
export const LIST_WORDS = 8;
/** The entry's generation: odd while a list uses it, bumped at create and at destroy, so that a
 *  handle of a destroyed list is refused. */
export const L_GEN = 0;
/** The list's lock (2 words: owner token, waiters). */
export const L_LOCK = 1;
/** First and last frame (index + 1; 0 when empty), the number of frames, the metadata type id. */
export const L_FRONT = 3;
export const L_BACK = 4;
export const L_SIZE = 5;
export const L_TYPE = 6;

/** Bytes of the header, rounded up to a page. */
export const HEADER_BYTES = alignUp((H_LISTS + MAX_LISTS * LIST_WORDS) * 4, PAGE_SIZE);

/** Where each part of a region lies, in bytes from the region start. */
export interface Layout {
  readonly nframes: number;
  readonly metaOffset: number;
  readonly frameOffset: number;
  readonly totalBytes: number;
}

/**
 * Computes the layout of a region of `nframes` frames that starts at byte `offset` of its
 * buffer. The frame region is aligned to PAGE_SIZE in the buffer (not just in the region).
 */
export function computeLayout(nframes: number, offset: number): Layout {
  const metaOffset = HEADER_BYTES;
  const metaEnd = metaOffset + nframes * META_SLOT_SIZE;
  const frameOffset = alignUp(offset + metaEnd, PAGE_SIZE) - offset;
  return { nframes, metaOffset, frameOffset, totalBytes: frameOffset + nframes * PAGE_SIZE };
}
