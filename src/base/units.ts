/**
 * The pure arithmetic between frames, frame indices and metadata slots, as the kernel's
 * `meta::mapping` (`frame_to_index`, `frame_to_meta`, `meta_to_frame`), and the one bounds
 * check (`checkPaddr`) that every paddr-taking entry point uses.
 */
import { checkNumber } from './args.js';
import { GetFrameError } from './errors.js';
import { META_SLOT_SIZE } from './limits.js';

/** A physical address: a byte offset into the frame region. Frame `i` starts at `i * PAGE_SIZE`. */
export type Paddr = number;

/**
 * The index of the frame at `paddr` (which must be page-aligned), as the kernel's
 * `frame_to_index`: `paddr / PAGE_SIZE`.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * console.log(frameToIndex(frame.paddr) === frame.paddr / PAGE_SIZE, frameToIndex(8192)); // true 2
 * frame.drop();
 * ```
 */
export function frameToIndex(paddr: Paddr): number {
  return paddr / PAGE_SIZE;
}

/**
 * The byte offset, from the start of the metadata region, of the slot of the frame at `paddr`,
 * as the kernel's `frame_to_meta`: one `META_SLOT_SIZE` slot per frame.
 *
 * @example
 * ```ts
 * console.log(frameToMeta(0), frameToMeta(2 * PAGE_SIZE)); // 0 128
 * ```
 */
export function frameToMeta(paddr: Paddr): number {
  return (paddr / PAGE_SIZE) * META_SLOT_SIZE;
}

/**
 * The paddr of the frame whose slot is at byte offset `meta` of the metadata region, as the
 * kernel's `meta_to_frame`; the inverse of `frameToMeta`.
 *
 * @example
 * ```ts
 * console.log(metaToFrame(128), metaToFrame(frameToMeta(40960)) === 40960); // 8192 true
 * ```
 */
export function metaToFrame(meta: number): Paddr {
  return (meta / META_SLOT_SIZE) * PAGE_SIZE;
}

/**
 * Checks `paddr` as the kernel's `get_slot` does: `NotAligned` first, then `OutOfBound`.
 * Returns the frame index.
 */
export function checkPaddr(paddr: Paddr, maxPaddr: number): number {
  checkNumber(paddr, 'paddr');
  if (paddr % PAGE_SIZE !== 0) throw new GetFrameError('NotAligned', paddr);
  if (!(paddr >= 0 && paddr < maxPaddr)) throw new GetFrameError('OutOfBound', paddr);
  return paddr >>> PAGE_SHIFT;
}

/**
 * Bytes in one frame (a base page), as the kernel's `PAGE_SIZE`: 4096. Frame `i` of a region is
 * at paddr `i * PAGE_SIZE`.
 *
 * @example
 * ```ts
 * const seg = sys.allocSegment(4);
 * console.log(seg.size === 4 * PAGE_SIZE, seg.endPaddr - seg.startPaddr); // true 16384
 * seg.drop();
 * ```
 */
export const PAGE_SIZE = 4096;

/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12;

/** Rounds `n` up to a multiple of `a` (a power of two). */
export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
