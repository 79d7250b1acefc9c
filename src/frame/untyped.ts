/**
 * Untyped frames and segments, as the kernel's `untyped` module: only frames whose metadata type
 * is untyped expose their contents, as zero-copy views on the shared memory. The type system
 * rejects byte access on typed frames; frames reached through `AnyMeta` are checked at run time.
 * The handles' `bytes`, `reader`, `writer` and `fill` are `FrameHandle`'s (`handle.ts`); these are
 * the checks and byte operations under them.
 */
import { describe } from '../base/args.js';
import { FrameUseError, hex } from '../base/errors.js';
import type { FrameContext } from './context.js';
import { reachFrames } from '../region/header.js';
import type { Paddr } from '../base/units.js';
import type { AnyMeta } from './meta-type.js';

/**
 * `T` if frames of metadata type `M` may expose bytes (untyped, or not known statically), else
 * `never`, which makes a call to `bytes()` on a typed frame a compile-time error.
 */
export type ByteAccess<M extends AnyMeta, T> = M['untyped'] extends false ? never : T;

/** @internal Throws `Typed` unless `type` is untyped. */
export function checkBytes(type: AnyMeta, paddr: Paddr): void {
  if (!type.untyped) {
    throw new FrameUseError(
      'Typed',
      `frame ${hex(paddr)} holds typed metadata '${type.name}'; only untyped frames expose bytes`,
    );
  }
}

/** @internal A zero-copy view of `size` bytes of the frame region from `paddr`. */
export function frameBytes(sys: FrameContext, paddr: Paddr, size: number): Uint8Array {
  const r = sys._region;
  reachFrames(r, paddr + size);
  return new Uint8Array(r.mem.u8.buffer, r.mem.u8.byteOffset + r.frameByte + paddr, size);
}

/** @internal Sets `size` bytes from `paddr` to `byte`. */
export function fillBytes(sys: FrameContext, paddr: Paddr, size: number, byte: number): void {
  if (!Number.isInteger(byte) || byte < 0 || byte > 255) {
    throw new FrameUseError('BadValue', `fill: ${describe(byte)} is not a byte (0..255)`);
  }
  reachFrames(sys._region, paddr + size);
  sys._region.at.fill(sys._region.frameByte + paddr, byte, size);
}

/** @internal Zeroes `size` bytes from `paddr` (a multiple of PAGE_SIZE in practice). */
export function zeroBytes(sys: FrameContext, paddr: Paddr, size: number): void {
  reachFrames(sys._region, paddr + size);
  sys._region.at.zero(sys._region.frameByte + paddr, size);
}
