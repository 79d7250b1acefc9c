/**
 * The typed errors of pageframe. Every failing operation throws one of these and leaves shared
 * memory as it was before the call: no partial updates, no lost frames.
 */

/**
 * Why `fromUnused` / `fromInUse` could not get a frame, as the kernel's `GetFrameError`:
 * - `InUse`, `Unused`, `Busy`, `Unique`: the slot's state refuses the call;
 * - `OutOfBound`, `NotAligned`: the address is not a frame of the region;
 * - `Free`: `fromUnused` of a frame that is free in the allocator (cached by a worker or in the
 *   buddy lists): only a frame owned raw (`sys.allocator.alloc`, `resetAsUnused`) may be claimed.
 */
export type GetFrameErrorCode = 'InUse' | 'Unused' | 'Busy' | 'Unique' | 'OutOfBound' | 'NotAligned' | 'Free';

/**
 * A physical address could not be turned into a frame handle (`Frame.fromUnused`,
 * `Frame.fromInUse`, `UniqueFrame.fromUnused`, `Segment.fromUnused`, ...), as the kernel's
 * `GetFrameError`. Nothing changed.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * try {
 *   Frame.fromUnused(sys, frame.paddr, Untyped); // someone holds it
 * } catch (e) {
 *   if (!(e instanceof GetFrameError)) throw e;
 *   console.log(e.code, e.paddr === frame.paddr); // 'InUse' true
 * }
 * frame.drop();
 * ```
 */
export class GetFrameError extends Error {
  /** Always `'GetFrameError'`. */
  override readonly name = 'GetFrameError';
  /**
   * Made by pageframe; a custom allocator or wrapper may throw one too.
   *
   * @example
   * ```ts
   * const e = new GetFrameError('NotAligned', 100);
   * console.log(e.message); // 'NotAligned: frame at 0x64: the address is not a multiple of PAGE_SIZE'
   * ```
   */
  constructor(
    /**
     * Why (see {@link GetFrameErrorCode}).
     *
     * @example
     * ```ts
     * try {
     *   Frame.fromInUse(sys, sys.maxPaddr); // just past the region
     * } catch (e) {
     *   console.log((e as GetFrameError).code); // 'OutOfBound'
     * }
     * ```
     */
    readonly code: GetFrameErrorCode,
    /**
     * The address asked for.
     *
     * @example
     * ```ts
     * try {
     *   Frame.fromInUse(sys, 4096 + 1);
     * } catch (e) {
     *   console.log((e as GetFrameError).paddr); // 4097
     * }
     * ```
     */
    readonly paddr: number,
    message?: string,
  ) {
    super(`${code}: ${message ?? `frame at ${hex(paddr)}: ${GET_FRAME_MESSAGES[code]}`}`);
  }
}

const GET_FRAME_MESSAGES: Record<GetFrameErrorCode, string> = {
  InUse: 'the frame is in use (it has shared references)',
  Unused: 'the frame is unused (no one holds it)',
  Busy: 'the frame is busy (being set up or torn down by another operation)',
  Unique: 'the frame is held by a UniqueFrame (or a linked list)',
  OutOfBound: 'the address is beyond the end of physical memory',
  NotAligned: 'the address is not a multiple of PAGE_SIZE',
  Free: 'the frame is free in the allocator; claim only frames you own raw (sys.allocator.alloc)',
};

/** `NoMemory`: more was asked than can be had. `InvalidArgs`: a count of 0, or not an integer. */
export type AllocErrorCode = 'NoMemory' | 'InvalidArgs';

/**
 * An allocation failed (`allocFrame`, `allocSegment`, `FrameAllocOptions`, `FrameChannel.create`);
 * nothing changed. For `NoMemory`, `requested` and `free` say how many frames.
 *
 * @example
 * ```ts
 * try {
 *   sys.allocSegment(sys.nframes + 1);
 * } catch (e) {
 *   if (!(e instanceof AllocError)) throw e;
 *   console.log(e.code, e.requested, e.free); // 'NoMemory' 65 64
 * }
 * ```
 */
export class AllocError extends Error {
  /** Always `'AllocError'`. */
  override readonly name = 'AllocError';
  /**
   * Made by pageframe; a custom allocator or wrapper may throw one too.
   *
   * @example
   * ```ts
   * const e = new AllocError('NoMemory', 'the pool is empty', 8, 2);
   * console.log(e.code, e.requested, e.free); // 'NoMemory' 8 2
   * ```
   */
  constructor(
    /**
     * `NoMemory` or `InvalidArgs` (see {@link AllocErrorCode}).
     *
     * @example
     * ```ts
     * try {
     *   sys.allocSegment(0);
     * } catch (e) {
     *   console.log((e as AllocError).code); // 'InvalidArgs'
     * }
     * ```
     */
    readonly code: AllocErrorCode,
    message: string,
    /**
     * `NoMemory`: the frames asked for (0 otherwise).
     *
     * @example
     * ```ts
     * try {
     *   sys.allocSegment(100);
     * } catch (e) {
     *   console.log((e as AllocError).requested); // 100
     * }
     * ```
     */
    readonly requested = 0,
    /**
     * `NoMemory`: the frames free at the time (they may be free but not contiguous).
     *
     * @example
     * ```ts
     * const held = sys.allocSegment(60);
     * try {
     *   sys.allocSegment(8);
     * } catch (e) {
     *   console.log((e as AllocError).free); // 4
     * }
     * held.drop();
     * ```
     */
    readonly free = 0,
  ) {
    super(`${code}: ${message}`);
  }

  /** @internal */
  static noMemory(requested: number, free: number): AllocError {
    return new AllocError(
      'NoMemory',
      `asked for ${requested} frame(s) but only ${free} free` +
        (free >= requested ? ' (not contiguous or not aligned as asked)' : ''),
      requested,
      free,
    );
  }
}

/**
 * Misuse of a handle or of the API:
 * - `Dropped`: use of a handle after `drop`, after it was consumed (`intoRaw`, `intoFrame`,
 *   `tryAs`, `split`, iteration, ...), or a second `drop`.
 * - `Typed`: byte access (`bytes`, `reader`, `writer`, `fill`) on a typed frame.
 * - `BadRange`: an empty, unaligned or out-of-bounds range, offset or byte count (a split/slice
 *   offset where the kernel panics, a read past a reader's end).
 * - `Overflow`: a clone past `REF_COUNT_MAX`.
 * - `InList`: the frame is in a linked list.
 * - `WrongType`: the frame's metadata type is not the one asked for.
 * - `NotHeld`: `fromRaw` (or a drop) of a frame whose slot says no one holds it.
 * - `ReadOnly`: a write to metadata through a shared handle (use `UniqueFrame.metaMut`, or an
 *   atomic field).
 * - `BadValue`: an argument of the wrong kind: a metadata value that does not fit its field, a
 *   number that is not an integer, an object that is not the handle or range expected.
 * - `Closed`: the `FrameSystem`, or the `FrameChannel` object, was closed in this worker.
 * - `Stale`: a `CursorMut` whose list was changed by something other than that cursor (a list
 *   method, another cursor, another worker) since its last call; it did nothing, and refuses
 *   every later use but `release()`.
 * - `WouldBlock`: the call would have to wait where it may not: a blocking wait on a thread that
 *   may not block (a browser's main thread).
 * - `TooManyLists`: the region's list table is full (`MAX_LISTS`).
 * - `TooManySubscribers`: a topic's table of subscriptions is full (`MAX_TOPIC_SUBSCRIBERS`).
 * - `Contract`: checked mode found a contract of the seed violated (a {@link ContractError}).
 */
export type FrameUseErrorCode =
  | 'Dropped'
  | 'Typed'
  | 'BadRange'
  | 'Overflow'
  | 'InList'
  | 'WrongType'
  | 'NotHeld'
  | 'ReadOnly'
  | 'BadValue'
  | 'Closed'
  | 'Stale'
  | 'WouldBlock'
  | 'TooManyLists'
  | 'TooManySubscribers'
  | 'Contract';

/**
 * The API was used in a way the kernel would reject, panic on, or call undefined behaviour: a
 * dropped handle, byte access to a typed frame, a bad range, ... (`code` says which; see
 * {@link FrameUseErrorCode}). Nothing changed.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * frame.drop();
 * try {
 *   frame.drop(); // a second drop
 * } catch (e) {
 *   if (!(e instanceof FrameUseError)) throw e;
 *   console.log(e.code); // 'Dropped'
 * }
 * ```
 */
export class FrameUseError extends Error {
  /** `'FrameUseError'` (`'ContractError'` for that subclass). */
  override readonly name: string = 'FrameUseError';
  /**
   * Made by pageframe; a wrapper may throw one too. The message starts with the code.
   *
   * @example
   * ```ts
   * const e = new FrameUseError('BadRange', 'offset 100 is not a multiple of PAGE_SIZE');
   * console.log(e.message); // 'BadRange: offset 100 is not a multiple of PAGE_SIZE'
   * ```
   */
  constructor(
    /**
     * What was wrong (see {@link FrameUseErrorCode}).
     *
     * @example
     * ```ts
     * const seg = sys.allocSegment(2);
     * try {
     *   seg.split(100); // not a multiple of PAGE_SIZE
     * } catch (e) {
     *   console.log((e as FrameUseError).code); // 'BadRange'
     * }
     * seg.drop();
     * ```
     */
    readonly code: FrameUseErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * Checked mode: a `requires`/`ensures` of the seed's verified contracts did not hold.
 * `contract` names it, e.g. `from_raw_requires`; `paddr` is the frame concerned. Nothing
 * changed. Outside checked mode the same misuse goes unchecked (or is caught later, differently).
 *
 * @example
 * ```ts
 * const sys = FrameSystem.create({ frames: 16, checked: true });
 * const frame = sys.allocFrame();
 * try {
 *   Frame.fromRaw(sys, frame.paddr); // fromRaw with no matching intoRaw: a double free to be
 * } catch (e) {
 *   if (!(e instanceof ContractError)) throw e;
 *   console.log(e.contract, e.code); // 'from_raw_requires' 'Contract'
 * }
 * frame.drop();
 * ```
 */
export class ContractError extends FrameUseError {
  /** Always `'ContractError'`. */
  override readonly name = 'ContractError';
  /**
   * Made by checked mode; its `code` is `'Contract'`.
   *
   * @example
   * ```ts
   * const e = new ContractError('from_raw_requires', 0x1000, 'no forgotten reference');
   * console.log(e.code, e.message); // 'Contract' 'Contract: from_raw_requires violated at frame 0x1000: ...'
   * ```
   */
  constructor(
    /**
     * The contract that did not hold, as the seed names it (`from_raw_requires`, ...).
     *
     * @example
     * ```ts
     * const sys = FrameSystem.create({ frames: 16, checked: true });
     * const frame = sys.allocFrame();
     * try {
     *   Frame.fromRaw(sys, frame.paddr); // no intoRaw came first
     * } catch (e) {
     *   console.log((e as ContractError).contract); // 'from_raw_requires'
     * }
     * frame.drop();
     * ```
     */
    readonly contract: string,
    /**
     * The frame concerned.
     *
     * @example
     * ```ts
     * const sys = FrameSystem.create({ frames: 16, checked: true });
     * const frame = sys.allocFrame();
     * const paddr = frame.clone().intoRaw(); // forgets one of two references
     * Frame.fromRaw(sys, paddr).drop(); // takes it back
     * try {
     *   Frame.fromRaw(sys, paddr); // a second time: no forgotten reference is left
     * } catch (e) {
     *   console.log((e as ContractError).paddr === paddr); // true
     * }
     * frame.drop();
     * ```
     */
    readonly paddr: number,
    message: string,
  ) {
    super('Contract', `${contract} violated at frame ${hex(paddr)}: ${message}`);
  }
}

/**
 * `sys.checkInvariants()` found the region invariant broken; `where` says where (a slot, a list,
 * the allocator). A bug in pageframe, in a custom allocator, or a write into the region from
 * outside it.
 *
 * @example
 * ```ts
 * try {
 *   sys.checkInvariants();
 *   console.log('whole'); // whole
 * } catch (e) {
 *   if (!(e instanceof InvariantError)) throw e;
 *   console.error(e.where, e.message);
 * }
 * ```
 */
export class InvariantError extends Error {
  /** Always `'InvariantError'`. */
  override readonly name = 'InvariantError';
  /**
   * Made by `checkInvariants`; a custom allocator's `checkInvariants` throws one too.
   *
   * @example
   * ```ts
   * const e = new InvariantError('my allocator', 'frame 0x3000 is free twice');
   * console.log(e.message); // 'my allocator: frame 0x3000 is free twice'
   * ```
   */
  constructor(
    /**
     * Where the invariant fails, e.g. `slot of frame 0x3000` or `linked list 2`.
     *
     * @example
     * ```ts
     * const e = new InvariantError('slot of frame 0x3000', 'busy outside an operation');
     * console.log(e.where); // 'slot of frame 0x3000'
     * ```
     */
    readonly where: string,
    message: string,
  ) {
    super(`${where}: ${message}`);
  }
}

/**
 * A metadata type could not be defined or registered:
 * - `BadSchema`: an unknown field kind, or a bad type or field name.
 * - `TooLarge`: the fields need more than `FRAME_METADATA_MAX_SIZE` (40) bytes, or the type's
 *   descriptor does not fit its registry entry.
 * - `Conflict`: the name is registered with another schema (or another `untyped` flag).
 * - `RegistryFull`: the region's type registry has no room left (`MAX_TYPES`).
 */
export type MetaTypeErrorCode = 'BadSchema' | 'TooLarge' | 'Conflict' | 'RegistryFull';

/**
 * A metadata type could not be defined (`defineMeta`) or registered in a region (its first use
 * there); `code` says why (see {@link MetaTypeErrorCode}). Nothing changed.
 *
 * @example
 * ```ts
 * defineMeta('app.conflict', { n: 'u32' });
 * try {
 *   defineMeta('app.conflict', { n: 'u16' }); // the same name, another schema
 * } catch (e) {
 *   if (!(e instanceof MetaTypeError)) throw e;
 *   console.log(e.code); // 'Conflict'
 * }
 * ```
 */
export class MetaTypeError extends Error {
  /** Always `'MetaTypeError'`. */
  override readonly name = 'MetaTypeError';
  /**
   * Made by pageframe. The message starts with the code.
   *
   * @example
   * ```ts
   * const e = new MetaTypeError('BadSchema', "'app.x': unknown kind 'u128'");
   * console.log(e.message); // "BadSchema: 'app.x': unknown kind 'u128'"
   * ```
   */
  constructor(
    /**
     * Why (see {@link MetaTypeErrorCode}).
     *
     * @example
     * ```ts
     * try {
     *   defineMeta('app.bad-kind', { n: 'u128' as FieldKind });
     * } catch (e) {
     *   console.log((e as MetaTypeError).code); // 'BadSchema'
     * }
     * ```
     */
    readonly code: MetaTypeErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * A region could not be created or attached:
 * - `BadMemory`: the memory is not shared, too small, or the offset/frame count is invalid.
 * - `BadHeader`: no pageframe header at that offset, or a corrupt one.
 * - `Version`: the header was written by another layout version of pageframe.
 * - `TooManyWorkers`: the worker table is full (`MAX_WORKERS`).
 * - `BadWorker`: `reclaimWorker` of this worker's own id, or of no worker's id.
 * - `CannotGrow`: `grow` (or `autoGrow`) past the region's `maxFrames`, or of a memory that cannot
 *   grow that far; at `create`, a memory passed in that cannot grow to `maxFrames`.
 */
export type FrameSystemErrorCode = 'BadMemory' | 'BadHeader' | 'Version' | 'TooManyWorkers' | 'BadWorker' | 'CannotGrow';

/**
 * A region could not be created or attached, or a worker not reclaimed; `code` says why (see
 * {@link FrameSystemErrorCode}). Nothing changed.
 *
 * @example
 * ```ts
 * try {
 *   FrameSystem.attach({ memory: new SharedArrayBuffer(1 << 20), offset: 0 }); // no region there
 * } catch (e) {
 *   if (!(e instanceof FrameSystemError)) throw e;
 *   console.log(e.code); // 'BadHeader'
 * }
 * ```
 */
export class FrameSystemError extends Error {
  /** Always `'FrameSystemError'`. */
  override readonly name = 'FrameSystemError';
  /**
   * Made by pageframe. The message starts with the code.
   *
   * @example
   * ```ts
   * const e = new FrameSystemError('BadWorker', 'worker 9 is still attached');
   * console.log(e.message); // 'BadWorker: worker 9 is still attached'
   * ```
   */
  constructor(
    /**
     * Why (see {@link FrameSystemErrorCode}).
     *
     * @example
     * ```ts
     * try {
     *   sys.reclaimWorker(sys.workerId); // a worker cannot reclaim itself
     * } catch (e) {
     *   console.log((e as FrameSystemError).code); // 'BadWorker'
     * }
     * ```
     */
    readonly code: FrameSystemErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Formats an address as the kernel's Debug impls do. */
export function hex(paddr: number): string {
  return typeof paddr === 'number' && Number.isFinite(paddr) && paddr >= 0
    ? `0x${paddr.toString(16)}`
    : String(paddr);
}
