// The sample region `pageframe map` draws when it is given no saved map: a small checked-mode
// system with a frame in every state a map shows, built with the public API only. Frames of two
// typed metadata types (some shared by several handles), untyped frames, unique frames, a linked
// list, references forgotten with intoRaw, frames owned raw, frames cached by this worker, and
// free memory left fragmented by freeing every second run of a long allocation.
import { FrameAllocOptions, FrameSystem, LinkedList, Untyped, defineMeta } from '../../dist/index.js';

/** Typed: an application's page cache entry. */
const Page = defineMeta('app.page', { owner: 'u32', dirty: 'bool' });
/** Typed: an inode, kept in an LRU linked list. */
const Inode = defineMeta('app.inode', { ino: 'u32' });
/** Untyped: a data buffer whose bytes the application reads and writes. */
const Buffer = defineMeta('app.buffer', { len: 'u32' }, { untyped: true });

/**
 * Builds the sample region (512 frames, checked mode) and returns it, with the handles that keep
 * its frames held (they must stay reachable while the map is captured).
 */
export function buildSampleSystem() {
  const sys = FrameSystem.create({ frames: 512, checked: true, leakStacks: false });
  const options = new FrameAllocOptions(sys);
  /** @type {unknown[]} */
  const held = [];

  // Pages of the page cache, some shared by several handles (counts 2..7).
  const pages = [];
  for (let i = 0; i < 48; i++) pages.push(sys.allocFrame(Page, { owner: 100 + i, dirty: i % 3 === 0 }));
  pages.forEach((p, i) => {
    held.push(p);
    if (i % 4 === 0) for (let c = 0; c < 1 + (i % 7); c++) held.push(p.clone());
  });

  // Untyped buffers: a 16-frame segment of app.buffer, 8 plain Untyped frames.
  const buffers = sys.allocSegment(16, Buffer, () => ({ len: 4096 }));
  buffers.fill(0x5a);
  held.push(buffers);
  for (let i = 0; i < 8; i++) held.push(sys.allocFrame(Untyped));

  // Unique frames (one owner each), and an LRU of inodes in a linked list.
  for (let i = 0; i < 6; i++) held.push(options.allocUnique(Page, { owner: 900 + i, dirty: true }));
  const lru = LinkedList.create(sys, Inode);
  for (let i = 0; i < 12; i++) lru.pushBack(options.allocUnique(Inode, { ino: 2 + i }));
  held.push(lru);

  // References forgotten with intoRaw (checked mode records them): addresses handed elsewhere.
  /** @type {number[]} */
  const forgotten = [];
  for (let i = 0; i < 5; i++) forgotten.push(sys.allocFrame(Inode, { ino: 500 + i }).intoRaw());
  forgotten.push(pages[8].clone().intoRaw()); // one of two references of a shared page

  // Raw frames: a run from the allocator itself, and a unique frame reset to unused.
  const raw = sys.allocator.alloc(6, 1);
  const reset = options.allocUnique(Page, { owner: 0, dirty: false });
  reset.resetAsUnused();

  // A burst of 120 single frames, then every second run of three freed again (and the caches
  // drained): the free memory below the untouched tail is left in holes.
  const burst = [];
  for (let i = 0; i < 120; i++) burst.push(sys.allocFrame());
  burst.forEach((f, i) => {
    if (Math.floor(i / 3) % 2 === 0) f.drop();
    else held.push(f);
  });
  sys.drainCaches();

  // A few freed frames stay in this worker's cache (pale blue).
  for (let i = 0; i < 10; i++) sys.allocFrame().drop();
  return { sys, held, forgotten, raw, reset: reset.paddr };
}
