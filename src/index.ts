/**
 * pageframe: the frame (physical page) management of Asterinas OSTD, as verified by vostd,
 * brought to JavaScript shared memory.
 *
 * A region of a `SharedArrayBuffer` (or shared `WebAssembly.Memory`) is carved into 4 KiB
 * frames. Each frame has a 64-byte metadata slot in the same shared memory, holding its atomic
 * reference count, its metadata type and up to 40 bytes of typed metadata. Handles (`Frame`,
 * `UniqueFrame`, `Segment`) are small objects holding an address; their counts add up across
 * every worker that attached to the region, and the last drop, in whichever worker, frees the
 * frame. Typed frames keep their contents private; untyped frames expose zero-copy bytes.
 *
 * The documents below are pages of the API site (`npm run docs`), rendered from the repository.
 *
 * @document ../README.md
 * @document ../docs/design.md
 * @document ../docs/overview.md
 * @document ../docs/runtimes.md
 * @document ../docs/map.md
 * @document ../docs/waits.md
 * @document ../docs/layers.md
 * @document ../docs/verification.md
 * @document ../bench/README.md
 * @packageDocumentation
 */
export { PAGE_SIZE } from './base/units.js';
export { META_SLOT_SIZE, FRAME_METADATA_MAX_SIZE, REF_COUNT_UNUSED, REF_COUNT_UNIQUE, REF_COUNT_MAX, MAX_FRAMES, MAX_TYPES, MAX_WORKERS, MAX_LISTS } from './base/limits.js';
export {
  FrameSystem,
  type FrameSystemOptions,
  type AttachOptions,
  type FrameStats,
  type WatchTarget,
  type WatchableWorker,
  type WatchablePool,
} from './system.js';
export type { FrameSystemHandle, SharedMemory } from './region/header.js';
export { frameToIndex, frameToMeta, metaToFrame, type Paddr } from './base/units.js';
export { defineMeta, type DefineMetaOptions, type OnDrop } from './frame/define-meta.js';
export { MetaType, Untyped, type AnyMeta, type UntypedMeta, type AtomicCell, type FieldKind, type FieldValue, type FieldInit, type MetaInit, type MetaMut, type MetaView, type MetaViewBase, type Schema } from './frame/meta-type.js';
export type { FrameContext } from './frame/context.js';
export { FrameHandle, SingleFrameHandle } from './frame/handle.js';
export { Frame, type InitOf } from './frame/frame.js';
export { FrameRef, type MetaViewOf } from './frame/frame.js';
export { UniqueFrame, type MetaMutOf } from './frame/unique.js';
export { Segment, type PaddrRange } from './frame/segment.js';
export type { ByteAccess } from './frame/untyped.js';
export { FrameReader, FrameWriter } from './frame/io.js';
export { FrameAllocOptions } from './frame/allocator.js';
export type { GlobalFrameAllocator } from './base/global-allocator.js';
export { BuddyAllocator } from './frame-allocator/buddy.js';
export { CachedAllocator } from './frame-allocator/cache.js';
export {
  GetFrameError,
  AllocError,
  FrameUseError,
  ContractError,
  InvariantError,
  MetaTypeError,
  FrameSystemError,
  type GetFrameErrorCode,
  type AllocErrorCode,
  type FrameUseErrorCode,
  type MetaTypeErrorCode,
  type FrameSystemErrorCode,
} from './base/errors.js';
export { defineStruct, StructType, StructArray, type StructView } from './heap/struct.js';
export { FrameChannel, MAX_CHANNEL_CAPACITY, type FrameChannelHandle } from './workers/channel.js';
export { FrameTopic, TopicSubscription, MAX_TOPIC_SUBSCRIBERS, type FrameTopicHandle, type FrameTopicOptions } from './workers/topic.js';
export type { ReclaimReport } from './workers/reclaim.js';
export { Heap, type HeapStats } from './heap/heap.js';
export { LinkedList, CursorMut, type LinkedListHandle } from './frame/linked-list.js';
export type { LeakReport } from './checked/leaks.js';
export { runtimeSupport, type RuntimeSupport } from './shm/probe.js';
export * from './map/index.js'; // the frame map: captureFrameMap, renderFrameMap, parseFrameMap, ...
