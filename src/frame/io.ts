/**
 * Readers and writers of untyped frames and segments, as the kernel's `VmReader` / `VmWriter`:
 * a cursor over the frame's bytes in shared memory, with bounds-checked reads and writes of
 * bytes and of little-endian numbers. Every call checks that the handle is still alive.
 */
import { FrameUseError, hex } from '../errors.js';
import type { FrameSystem } from '../system.js';
import type { Paddr } from './mapping.js';

/** The handle a cursor reads or writes through (its liveness). */
interface CursorOwner {
  readonly paddr: Paddr;
  /** @internal */
  readonly _live: boolean;
}

/** What readers and writers share: the range, the position, the checks. */
abstract class Cursor {
  /** Byte address of the next access in the region. */
  protected at: number;
  /** Byte address just past the range. */
  protected readonly end: number;
  protected readonly u8: Uint8Array;
  protected readonly dv: DataView;

  constructor(
    protected readonly owner: CursorOwner,
    sys: FrameSystem,
    paddr: Paddr,
    size: number,
  ) {
    this.u8 = sys._mem.u8;
    this.dv = sys._dataView();
    this.at = sys._frameByte + paddr;
    this.end = this.at + size;
  }

  /** Moves the cursor `n` bytes on (`BadRange` past the end). */
  skip(n: number): this {
    this.claim(n);
    return this;
  }

  /** Checks that `n` more bytes exist; returns the address of the first and moves past them. */
  protected claim(n: number): number {
    if (!this.owner._live) {
      throw new FrameUseError('Dropped', `a reader or writer of frame ${hex(this.owner.paddr)} used after its handle was dropped`);
    }
    if (!(Number.isInteger(n) && n >= 0)) throw new FrameUseError('BadRange', `${String(n)} is not a byte count`);
    if (n > this.end - this.at) {
      throw new FrameUseError('BadRange', `${n} byte(s) asked, ${this.end - this.at} left`);
    }
    const at = this.at;
    this.at += n;
    return at;
  }
}

/** Reads the bytes of an untyped frame or segment, from its start. */
export class FrameReader extends Cursor {
  /** Bytes left to read. */
  get remain(): number {
    return this.end - this.at;
  }

  /**
   * `read(n)`: the next `n` bytes, copied into a new array. `read(into)`: fills `into` with the
   * next `into.length` bytes and returns it. `BadRange` if fewer are left (nothing is read).
   */
  read(n: number): Uint8Array;
  read<T extends Uint8Array>(into: T): T;
  read(what: number | Uint8Array): Uint8Array {
    if (typeof what === 'number') {
      const at = this.claim(what);
      return this.u8.slice(at, at + what);
    }
    const at = this.claim(what.length);
    what.set(this.u8.subarray(at, at + what.length));
    return what;
  }

  readU8(): number {
    return this.u8[this.claim(1)];
  }

  readU16(): number {
    return this.dv.getUint16(this.claim(2), true);
  }

  readU32(): number {
    return this.dv.getUint32(this.claim(4), true);
  }

  readI32(): number {
    return this.dv.getInt32(this.claim(4), true);
  }

  readF32(): number {
    return this.dv.getFloat32(this.claim(4), true);
  }

  readF64(): number {
    return this.dv.getFloat64(this.claim(8), true);
  }

  readBigU64(): bigint {
    return this.dv.getBigUint64(this.claim(8), true);
  }
}

/** Writes the bytes of an untyped frame or segment, from its start. */
export class FrameWriter extends Cursor {
  /** Bytes left to write. */
  get avail(): number {
    return this.end - this.at;
  }

  /** Writes all of `bytes` (`BadRange` if they do not fit: nothing is written). */
  write(bytes: Uint8Array): this {
    this.u8.set(bytes, this.claim(bytes.length));
    return this;
  }

  writeU8(v: number): this {
    checkInt(v, 0, 0xff);
    this.u8[this.claim(1)] = v;
    return this;
  }

  writeU16(v: number): this {
    checkInt(v, 0, 0xffff);
    this.dv.setUint16(this.claim(2), v, true);
    return this;
  }

  writeU32(v: number): this {
    checkInt(v, 0, 0xffff_ffff);
    this.dv.setUint32(this.claim(4), v, true);
    return this;
  }

  writeI32(v: number): this {
    checkInt(v, -0x8000_0000, 0x7fff_ffff);
    this.dv.setInt32(this.claim(4), v, true);
    return this;
  }

  writeF32(v: number): this {
    this.dv.setFloat32(this.claim(4), v, true);
    return this;
  }

  writeF64(v: number): this {
    this.dv.setFloat64(this.claim(8), v, true);
    return this;
  }

  writeBigU64(v: bigint): this {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw new FrameUseError('BadValue', `${String(v)} is not a u64 bigint`);
    this.dv.setBigUint64(this.claim(8), v, true);
    return this;
  }

  /** Sets every byte left to `byte`; the writer is then at the end. */
  fill(byte: number): this {
    checkInt(byte, 0, 0xff);
    const at = this.claim(this.end - this.at);
    this.u8.fill(byte, at, this.end);
    return this;
  }
}

function checkInt(v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new FrameUseError('BadValue', `${String(v)} is not an integer in [${min}, ${max}]`);
  }
}
