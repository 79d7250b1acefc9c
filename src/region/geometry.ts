/**
 * Where everything of a region lies: the memory map, and the table of contents of the header.
 *
 * A region starts at `offset` in a shared buffer and is laid out as
 * `[ header | metadata region (one 64-byte MetaSlot per frame, for maxFrames) | padding | frame region ]`.
 * The frame region starts on a 4 KiB boundary of the buffer, so frames are page-aligned for
 * WebAssembly too. The metadata region has room for the most frames the region may grow to
 * (`maxFrames`), so that growing only appends frames at the end of the memory. Everything a worker needs to use the region is in the region itself.
 *
 * Word indices are in units of `Int32Array` elements from the region start. This file says only
 * where each header structure begins; the words inside each one, and who writes them, are in the
 * file that owns it:
 *
 *   words  0..10   identity and layout            header.ts
 *   words 11..13   the deferred-drop stack        deferred.ts
 *   words 14..15   growth: maxFrames, autoGrow    header.ts
 *   words 16..40   the buddy allocator's heads    free-lists.ts
 *   words 48..50   the type registry's lock/count registry.ts
 *   H_WORKERS      the worker table               workers.ts (journals: journal.ts)
 *   H_REGISTRY     the type registry's entries    registry.ts
 *   H_LISTS        the linked-list table          lists.ts
 *   H_HEAP         the heap: its lock, slab lists, per-worker caches   heap.ts
 *   metaOffset     one MetaSlot per frame         meta.ts
 */
import { MAX_LISTS, MAX_TYPES, MAX_WORKERS, META_SLOT_SIZE } from '../base/limits.js';
import { PAGE_SIZE, alignUp } from '../base/units.js';

/** Bumped whenever the layout changes; attach refuses another version. */
export const LAYOUT_VERSION = 5;

/** Head of the deferred-drop stack (frame index + 1; 0 when empty), guarded by H_DEFER_LOCK. */
export const H_DEFER_HEAD = 11;
/** The deferred-drop stack's lock (2 words: owner token, sleepers). */
export const H_DEFER_LOCK = 12;

/** Buddy allocator: lock (2 words), free-frame count, then one list head per order (free-lists.ts). */
export const H_BUDDY_LOCK = 16;
export const H_BUDDY_FREE = 18;
export const H_BUDDY_HEADS = 20;
/** Orders 0..MAX_ORDER-1: chunks of up to 2^(MAX_ORDER-1) frames, more than MAX_FRAMES. */
export const MAX_ORDER = 21;

/** Type registry: lock (2 words) and the number of registered types. */
export const H_REG_LOCK = 48;
export const H_REG_COUNT = 50;

/** Worker table: one record per attached worker. */
export const H_WORKERS = 64;
export const WORKER_WORDS = 128;

/** Type registry entries: a fixed-size record per type id (ids start at 1). */
export const H_REGISTRY = H_WORKERS + MAX_WORKERS * WORKER_WORDS;
export const TYPE_ENTRY_BYTES = 512;
export const TYPE_ENTRY_WORDS = TYPE_ENTRY_BYTES / 4;

/** Linked-list heads: one entry per list (`LinkedList`), ids 1..MAX_LISTS. */
export const H_LISTS = H_REGISTRY + MAX_TYPES * TYPE_ENTRY_WORDS;
export const LIST_WORDS = 8;

/** The heap's words (region/heap.ts): its lock and slab lists, then HEAP_WORKER_WORDS per worker. */
export const H_HEAP = H_LISTS + MAX_LISTS * LIST_WORDS;
export const HEAP_WORKER_WORDS = 16;
export const HEAP_WORDS = 32 + MAX_WORKERS * HEAP_WORKER_WORDS;

/** Bytes of the header, rounded up to a page. */
export const HEADER_BYTES = alignUp((H_HEAP + HEAP_WORDS) * 4, PAGE_SIZE);

/** Where each part of a region lies, in bytes from the region start. */
export interface Layout {
  /** Frames the region has now (committed). */
  readonly nframes: number;
  /** The most frames it may grow to: its metadata region has a slot for each. */
  readonly maxFrames: number;
  readonly metaOffset: number;
  readonly frameOffset: number;
  /** Bytes from the region start to the end of its last frame now. */
  readonly totalBytes: number;
  /** The same at `maxFrames`. */
  readonly maxBytes: number;
}

/**
 * Computes the layout of a region of `nframes` frames (room for `maxFrames`, default `nframes`)
 * that starts at byte `offset` of its buffer. The frame region is aligned to PAGE_SIZE in the
 * buffer (not just in the region).
 */
export function computeLayout(nframes: number, offset: number, maxFrames = nframes): Layout {
  const metaOffset = HEADER_BYTES;
  const metaEnd = metaOffset + maxFrames * META_SLOT_SIZE;
  const frameOffset = alignUp(offset + metaEnd, PAGE_SIZE) - offset;
  return { nframes, maxFrames, metaOffset, frameOffset, totalBytes: frameOffset + nframes * PAGE_SIZE, maxBytes: frameOffset + maxFrames * PAGE_SIZE };
}

/** The same layout with `nframes` frames committed (a region that grew). */
export function withFrames(layout: Layout, nframes: number): Layout {
  return { ...layout, nframes, totalBytes: layout.frameOffset + nframes * PAGE_SIZE };
}
