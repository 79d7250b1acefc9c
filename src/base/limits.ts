/**
 * The public limits of a region: the sizes of a metadata slot, the reference-count states as the
 * API reports them, and the most frames, types, workers and lists one region holds. Pure
 * numbers: what each word of shared memory means is said in `src/region/`.
 */

/**
 * Bytes in one metadata slot, as the kernel's `META_SLOT_SIZE`: 64 (a reference count, a type
 * id, list links, and {@link FRAME_METADATA_MAX_SIZE} bytes of typed metadata).
 *
 * @example
 * ```ts
 * // The slot of the frame at paddr 3 × PAGE_SIZE is the fourth of the metadata region.
 * console.log(frameToMeta(3 * PAGE_SIZE) === 3 * META_SLOT_SIZE); // true
 * console.log(metaToFrame(3 * META_SLOT_SIZE) === 3 * PAGE_SIZE); // true
 * ```
 */
export const META_SLOT_SIZE = 64;

/**
 * Bytes of a slot that a metadata type may use, as the kernel's `FRAME_METADATA_MAX_SIZE`: 40.
 * `defineMeta` throws `MetaTypeError('TooLarge')` for a schema that needs more.
 *
 * @example
 * ```ts
 * const Big = defineMeta('app.five-f64', { a: 'f64', b: 'f64', c: 'f64', d: 'f64', e: 'f64' });
 * console.log(Big.size === FRAME_METADATA_MAX_SIZE); // true: 5 × 8 bytes fill a slot
 * try {
 *   defineMeta('app.too-big', { a: 'f64', b: 'f64', c: 'f64', d: 'f64', e: 'f64', f: 'u8' });
 * } catch (e) {
 *   console.log((e as MetaTypeError).code); // 'TooLarge'
 * }
 * ```
 */
export const FRAME_METADATA_MAX_SIZE = 40;

/**
 * Reference count of a free slot (all ones), as the kernel's `REF_COUNT_UNUSED`. Nobody holds
 * the frame: `Frame.fromInUse` of it throws `GetFrameError('Unused')`.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * const paddr = frame.paddr;
 * frame.drop(); // the last drop: the slot's count is REF_COUNT_UNUSED again
 * try {
 *   Frame.fromInUse(sys, paddr);
 * } catch (e) {
 *   console.log((e as GetFrameError).code); // 'Unused'
 * }
 * ```
 */
export const REF_COUNT_UNUSED = 0xffff_ffff;

/**
 * Reference count of a slot held by one `UniqueFrame`, as the kernel's `REF_COUNT_UNIQUE`.
 *
 * @example
 * ```ts
 * const unique = new FrameAllocOptions(sys).allocUnique(Untyped);
 * console.log(unique.referenceCount === REF_COUNT_UNIQUE); // true
 * unique.drop();
 * ```
 */
export const REF_COUNT_UNIQUE = 0xffff_fffe;

/**
 * Largest legal shared reference count (2^31 − 1); a clone past it is
 * `FrameUseError('Overflow')`, never a wrap.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * const copy = frame.clone();
 * console.log(frame.referenceCount, frame.referenceCount <= REF_COUNT_MAX); // 2 true
 * copy.drop();
 * frame.drop();
 * ```
 */
export const REF_COUNT_MAX = 0x7fff_ffff;

/**
 * Largest number of frames in one region: 2^20 (4 GiB of frames; a paddr then fits in 32 bits).
 *
 * @example
 * ```ts
 * try {
 *   FrameSystem.create({ frames: MAX_FRAMES + 1 });
 * } catch (e) {
 *   console.log((e as FrameSystemError).code); // 'BadMemory'
 * }
 * ```
 */
export const MAX_FRAMES = 1 << 20;

/**
 * Most workers attached to one region at once: 64 (the creator counts). One more `attach` throws
 * `FrameSystemError('TooManyWorkers')`; `close` (or `reclaimWorker` of a dead worker) frees an id.
 *
 * @example
 * ```ts
 * const others: FrameSystem[] = [];
 * try {
 *   for (;;) others.push(FrameSystem.attach(sys.handle, { separate: true }));
 * } catch (e) {
 *   console.log((e as FrameSystemError).code, others.length + 1 === MAX_WORKERS); // 'TooManyWorkers' true
 * }
 * for (const other of others) other.close();
 * ```
 */
export const MAX_WORKERS = 64;

/**
 * Most metadata types one region can register: 128. A type is registered in a region when it is
 * first used there; past the limit that use throws `MetaTypeError('RegistryFull')`.
 *
 * @example
 * ```ts
 * const types = Array.from({ length: 3 }, (_, i) => defineMeta(`app.kind-${i}`, { n: 'u32' }));
 * for (const type of types) sys.allocFrame(type).drop(); // registers each type here, once
 * console.log(types.length <= MAX_TYPES); // true
 * ```
 */
export const MAX_TYPES = 128;

/**
 * Most linked lists alive in one region at once: 256. One more `LinkedList.create` throws
 * `FrameUseError('TooManyLists')`; `destroy` frees a list's entry.
 *
 * @example
 * ```ts
 * const lists: LinkedList[] = [];
 * try {
 *   for (;;) lists.push(LinkedList.create(sys, Untyped));
 * } catch (e) {
 *   console.log((e as FrameUseError).code, lists.length === MAX_LISTS); // 'TooManyLists' true
 * }
 * for (const list of lists) list.destroy();
 * ```
 */
export const MAX_LISTS = 256;
