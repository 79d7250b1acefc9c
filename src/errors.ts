/**
 * The typed errors of pageframe. Every failing operation throws one of these and leaves shared
 * memory as it was before the call: no partial updates, no lost frames.
 */

/** Why `fromUnused` / `fromInUse` could not get a frame, as the kernel's `GetFrameError`. */
export type GetFrameErrorCode = 'InUse' | 'Unused' | 'Busy' | 'Unique' | 'OutOfBound' | 'NotAligned';

/** A physical address could not be turned into a frame handle. */
export class GetFrameError extends Error {
  override readonly name = 'GetFrameError';
  constructor(
    readonly code: GetFrameErrorCode,
    readonly paddr: number,
    message?: string,
  ) {
    super(message ?? `${code}: frame at ${hex(paddr)}: ${GET_FRAME_MESSAGES[code]}`);
  }
}

const GET_FRAME_MESSAGES: Record<GetFrameErrorCode, string> = {
  InUse: 'the frame is in use (it has shared references)',
  Unused: 'the frame is unused (no one holds it)',
  Busy: 'the frame is busy (being set up or torn down by another operation)',
  Unique: 'the frame is held by a UniqueFrame (or a linked list)',
  OutOfBound: 'the address is beyond the end of physical memory',
  NotAligned: 'the address is not a multiple of PAGE_SIZE',
};

/** `NoMemory`: more was asked than can be had. `InvalidArgs`: a count of 0, or not an integer. */
export type AllocErrorCode = 'NoMemory' | 'InvalidArgs';

/** An allocation failed. For `NoMemory`, `requested` and `free` say how many frames. */
export class AllocError extends Error {
  override readonly name = 'AllocError';
  constructor(
    readonly code: AllocErrorCode,
    message: string,
    readonly requested = 0,
    readonly free = 0,
  ) {
    super(message);
  }

  /** @internal */
  static noMemory(requested: number, free: number): AllocError {
    return new AllocError(
      'NoMemory',
      `NoMemory: asked for ${requested} frame(s) but only ${free} free` +
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
 * - `BadRange`: an empty or unaligned range, or a split/slice offset where the kernel panics.
 * - `Overflow`: a clone past `REF_COUNT_MAX`.
 * - `InList`: the frame is in a linked list.
 * - `WrongType`: the frame's metadata type is not the one asked for.
 * - `NotHeld`: `fromRaw` (or a drop) of a frame whose slot says no one holds it.
 * - `ReadOnly`: a write to metadata through a shared handle (use `UniqueFrame.metaMut`, or an
 *   atomic field).
 * - `BadValue`: a metadata value that does not fit its field.
 * - `Closed`: the `FrameSystem` was closed in this worker.
 * - `WouldBlock`: a blocking wait on a thread that may not block (a browser's main thread).
 * - `TooManyLists`: the region's list table is full (`MAX_LISTS`).
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
  | 'WouldBlock'
  | 'TooManyLists'
  | 'Contract';

/** The API was used in a way the kernel would reject, panic on, or call undefined behaviour. */
export class FrameUseError extends Error {
  override readonly name: string = 'FrameUseError';
  constructor(
    readonly code: FrameUseErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * Checked mode: a `requires`/`ensures` of the seed's verified contracts did not hold.
 * `contract` names it, e.g. `from_raw_requires`; `paddr` is the frame concerned.
 */
export class ContractError extends FrameUseError {
  override readonly name = 'ContractError';
  constructor(
    readonly contract: string,
    readonly paddr: number,
    message: string,
  ) {
    super('Contract', `${contract} violated at frame ${hex(paddr)}: ${message}`);
  }
}

/** `sys.checkInvariants()` found the region invariant broken; `where` says where. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
  constructor(
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

export class MetaTypeError extends Error {
  override readonly name = 'MetaTypeError';
  constructor(
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
 */
export type FrameSystemErrorCode = 'BadMemory' | 'BadHeader' | 'Version' | 'TooManyWorkers' | 'BadWorker';

export class FrameSystemError extends Error {
  override readonly name = 'FrameSystemError';
  constructor(
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
