/**
 * Heap slots and their size classes (the kernel's `HeapSlot` and the OSDK heap allocator's
 * classes): a request of `size` bytes aligned to `align` takes a slot of the larger of its size
 * class and its alignment class, 8, 16, ..., 2048 bytes; anything larger is a large block of
 * whole frames.
 */
import { NUM_CLASSES } from '../region/heap.js';

export { NUM_CLASSES };

/** The largest slot, in bytes: a request above it (or aligned above it) is a large block. */
export const MAX_SLOT_SIZE = 2048;

/** The slot size of class `c`. */
export function slotSize(c: number): number {
  return 8 << c;
}

/** Slots a slab of class `c` holds (one 4 KiB frame). */
export function slotsPerSlab(c: number): number {
  return 512 >> c;
}

/**
 * The class of a request of `size` bytes aligned to `align` (both valid), or -1 for a large
 * block: the class of the larger of the two (alignments and sizes up to 8 are class 0).
 */
export function classOf(size: number, align: number): number {
  const n = size > align ? size : align;
  if (n <= 8) return 0;
  if (n > MAX_SLOT_SIZE) return -1;
  return 29 - Math.clz32(n - 1);
}
