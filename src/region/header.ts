/**
 * The header's identity words: magic, version and the layout a region was made with, written
 * once by `create` (the magic last) and read by every `attach` to validate the region.
 *
 *   words: magic | version | nframes | flags | header bytes | meta offset | frame offset |
 *          slot bytes | page size | next list id | next worker id (unused)
 *
 * Who writes: only `initRegion`, before any other worker can know the region (but the list-id
 * counter, which is `lists.ts`'s). ORDER: the magic is stored last, with `Atomics.store`; attach
 * reads it first, with `Atomics.load`, so a worker that sees it sees the rest.
 */

/** "PFRM" in little-endian. */
export const MAGIC = 0x4d524650;

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

/** Header flags. */
export const FLAG_CHECKED = 1;
