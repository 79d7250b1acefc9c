/**
 * Readers and writers of untyped frames and segments, as the kernel's `VmReader` / `VmWriter`:
 * a cursor over the frame's bytes in shared memory, with bounds-checked reads and writes of
 * bytes and of little-endian numbers. Every call checks that the handle is still alive.
 */
import { reachFrames } from '../region/header.js';
import { checkBytesArg, describe } from '../base/args.js';
import { FrameUseError, hex } from '../base/errors.js';
import type { FrameContext } from './context.js';
import type { Paddr } from '../base/units.js';
import { INSPECT, inspectSafely } from '../base/inspect.js';

/** The handle a cursor reads or writes through (its liveness). */
interface CursorOwner {
  readonly paddr: Paddr;
  /** @internal */
  readonly _live: boolean;
  /** @internal The system the handle belongs to: closed, it refuses every use. */
  readonly _sys: { readonly _closed: boolean; _assertOpen(): void };
}

/** What readers and writers share: the range, the position, the checks. */
abstract class Cursor {
  /** @internal Byte address of the next access in the region. */
  protected at: number;
  /** @internal Byte address just past the range. */
  protected readonly end: number;
  /** @internal */
  protected readonly u8: Uint8Array;
  /** @internal */
  protected readonly dv: DataView;
  /** @internal The region's bulk fill (WebAssembly `memory.fill` where it can). */
  protected readonly fillAt: (at: number, byte: number, length: number) => void;

  /** @internal Made by `reader()` / `writer()` of a frame, unique frame or segment. */
  constructor(
    /** @internal */ protected readonly owner: CursorOwner,
    sys: FrameContext,
    paddr: Paddr,
    size: number,
  ) {
    reachFrames(sys._region, paddr + size); // views that reach a frame of a grow elsewhere
    this.u8 = sys._region.mem.u8;
    this.dv = sys._region.dataView();
    this.fillAt = sys._region.at.fill;
    this.at = sys._region.frameByte + paddr;
    this.end = this.at + size;
  }

  /** @internal What `console.log` shows (Node, Deno, Bun): `FrameReader(0x3000, 4084 bytes left)` / `FrameWriter(...)`, or `(0x3000, dropped)`. */
  [INSPECT](): string {
    const name = this.constructor.name;
    const state = (): string => (this.owner._sys._closed ? 'system closed' : 'dropped');
    return inspectSafely(() => `${name}(${hex(this.owner.paddr)}, ${this.owner._live ? `${this.end - this.at} bytes left` : state()})`, () => `${name}()`);
  }

  /**
   * Moves the cursor `n` bytes on (`FrameUseError('BadRange')` past the end, and nothing moves).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().skip(8).writeU8(1);
   * console.log(frame.reader().skip(8).readU8()); // 1
   * frame.drop();
   * ```
   */
  skip(n: number): this {
    this.claim(n);
    return this;
  }

  /** @internal Checks that `n` more bytes exist; returns the address of the first and moves past them. */
  protected claim(n: number): number {
    if (this.owner._sys._closed) this.owner._sys._assertOpen();
    if (!this.owner._live) {
      throw new FrameUseError('Dropped', `a reader or writer of frame ${hex(this.owner.paddr)} used after its handle was dropped`);
    }
    if (!Number.isSafeInteger(n)) throw new FrameUseError('BadValue', `${describe(n)} is not a byte count (an integer)`);
    if (n < 0 || n > this.end - this.at) {
      throw new FrameUseError('BadRange', `${n} byte(s) asked, ${this.end - this.at} left`);
    }
    const at = this.at;
    this.at += n;
    return at;
  }
}

/**
 * Reads the bytes of an untyped frame or segment, from its start, as the kernel's `VmReader`:
 * bytes and little-endian numbers, bounds-checked (`FrameUseError('BadRange')` when fewer bytes
 * are left than asked; then nothing is read). Every call checks that the handle it came from is
 * still alive (`Dropped`). Get one with `reader()`.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * frame.writer().writeU16(2).write(new Uint8Array([7, 8]));
 * const r = frame.reader();
 * const n = r.readU16();
 * console.log(n, r.read(n), r.remain); // 2 Uint8Array(2) [ 7, 8 ] 4092
 * frame.drop();
 * ```
 */
export class FrameReader extends Cursor {
  /**
   * Bytes left to read.
   *
   * @example
   * ```ts
   * const seg = sys.allocSegment(2);
   * const r = seg.reader();
   * r.readF64();
   * console.log(r.remain); // 8184
   * seg.drop();
   * ```
   */
  get remain(): number {
    return this.end - this.at;
  }

  /**
   * `read(n)`: the next `n` bytes, copied into a new array. `BadRange` if fewer are left
   * (nothing is read).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.bytes().set([1, 2, 3]);
   * console.log(frame.reader().read(3)); // Uint8Array(3) [ 1, 2, 3 ]
   * frame.drop();
   * ```
   */
  read(n: number): Uint8Array;
  /**
   * `read(into)`: fills `into` with the next `into.length` bytes and returns it (no new array).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.fill(9);
   * const buffer = new Uint8Array(2);
   * console.log(frame.reader().read(buffer) === buffer, buffer); // true Uint8Array(2) [ 9, 9 ]
   * frame.drop();
   * ```
   */
  read<T extends Uint8Array>(into: T): T;
  read(what: number | Uint8Array): Uint8Array {
    if (typeof what === 'number') {
      const at = this.claim(what);
      return this.u8.slice(at, at + what);
    }
    checkBytesArg(what, 'read(into)');
    const at = this.claim(what.length);
    what.set(this.u8.subarray(at, at + what.length));
    return what;
  }

  /**
   * The next byte.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.bytes()[0] = 200;
   * console.log(frame.reader().readU8()); // 200
   * frame.drop();
   * ```
   */
  readU8(): number {
    return this.u8[this.claim(1)];
  }

  /**
   * The next 2 bytes as a little-endian unsigned integer.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.bytes().set([1, 2]);
   * console.log(frame.reader().readU16()); // 513
   * frame.drop();
   * ```
   */
  readU16(): number {
    return this.dv.getUint16(this.claim(2), true);
  }

  /**
   * The next 4 bytes as a little-endian unsigned integer.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeU32(0xcafe);
   * console.log(frame.reader().readU32().toString(16)); // cafe
   * frame.drop();
   * ```
   */
  readU32(): number {
    return this.dv.getUint32(this.claim(4), true);
  }

  /**
   * The next 4 bytes as a little-endian signed integer.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.fill(0xff);
   * console.log(frame.reader().readI32()); // -1
   * frame.drop();
   * ```
   */
  readI32(): number {
    return this.dv.getInt32(this.claim(4), true);
  }

  /**
   * The next 4 bytes as a little-endian 32-bit float.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeF32(0.5);
   * console.log(frame.reader().readF32()); // 0.5
   * frame.drop();
   * ```
   */
  readF32(): number {
    return this.dv.getFloat32(this.claim(4), true);
  }

  /**
   * The next 8 bytes as a little-endian 64-bit float.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeF64(Math.PI);
   * console.log(frame.reader().readF64() === Math.PI); // true
   * frame.drop();
   * ```
   */
  readF64(): number {
    return this.dv.getFloat64(this.claim(8), true);
  }

  /**
   * The next 8 bytes as a little-endian unsigned 64-bit integer.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeBigU64(2n ** 63n);
   * console.log(frame.reader().readBigU64()); // 9223372036854775808n
   * frame.drop();
   * ```
   */
  readBigU64(): bigint {
    return this.dv.getBigUint64(this.claim(8), true);
  }
}

/**
 * Writes the bytes of an untyped frame or segment, from its start, as the kernel's `VmWriter`:
 * bytes and little-endian numbers, bounds-checked (`FrameUseError('BadRange')` when they do not
 * fit, `BadValue` for a number out of range; then nothing is written). Calls chain. Get one with
 * `writer()`.
 *
 * @example
 * ```ts
 * const frame = sys.allocFrame();
 * const w = frame.writer().writeU8(1).writeU32(2).write(new Uint8Array([3]));
 * console.log(w.avail, frame.bytes().subarray(0, 6)); // 4090 Uint8Array(6) [ 1, 2, 0, 0, 0, 3 ]
 * frame.drop();
 * ```
 */
export class FrameWriter extends Cursor {
  /**
   * Bytes left to write.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * console.log(frame.writer().writeF64(1).avail); // 4088
   * frame.drop();
   * ```
   */
  get avail(): number {
    return this.end - this.at;
  }

  /**
   * Writes all of `bytes` (`BadRange` if they do not fit: nothing is written).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().write(new TextEncoder().encode('hi'));
   * console.log(new TextDecoder().decode(frame.bytes().subarray(0, 2))); // hi
   * frame.drop();
   * ```
   */
  write(bytes: Uint8Array): this {
    checkBytesArg(bytes, 'write(bytes)');
    this.u8.set(bytes, this.claim(bytes.length));
    return this;
  }

  /**
   * Writes one byte (an integer in 0..255, `BadValue` otherwise).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeU8(255);
   * console.log(frame.bytes()[0]); // 255
   * frame.drop();
   * ```
   */
  writeU8(v: number): this {
    checkInt(v, 0, 0xff);
    this.u8[this.claim(1)] = v;
    return this;
  }

  /**
   * Writes a 16-bit unsigned integer, little-endian.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeU16(0x0102);
   * console.log(frame.bytes().subarray(0, 2)); // Uint8Array(2) [ 2, 1 ]
   * frame.drop();
   * ```
   */
  writeU16(v: number): this {
    checkInt(v, 0, 0xffff);
    this.dv.setUint16(this.claim(2), v, true);
    return this;
  }

  /**
   * Writes a 32-bit unsigned integer, little-endian.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeU32(0xffff_ffff);
   * console.log(frame.reader().readU32()); // 4294967295
   * frame.drop();
   * ```
   */
  writeU32(v: number): this {
    checkInt(v, 0, 0xffff_ffff);
    this.dv.setUint32(this.claim(4), v, true);
    return this;
  }

  /**
   * Writes a 32-bit signed integer, little-endian.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeI32(-5);
   * console.log(frame.reader().readI32()); // -5
   * frame.drop();
   * ```
   */
  writeI32(v: number): this {
    checkInt(v, -0x8000_0000, 0x7fff_ffff);
    this.dv.setInt32(this.claim(4), v, true);
    return this;
  }

  /**
   * Writes a 32-bit float, little-endian (rounded to single precision).
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeF32(0.1);
   * console.log(frame.reader().readF32() === Math.fround(0.1)); // true
   * frame.drop();
   * ```
   */
  writeF32(v: number): this {
    this.dv.setFloat32(this.claim(4), v, true);
    return this;
  }

  /**
   * Writes a 64-bit float, little-endian.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeF64(-0.25);
   * console.log(frame.reader().readF64()); // -0.25
   * frame.drop();
   * ```
   */
  writeF64(v: number): this {
    this.dv.setFloat64(this.claim(8), v, true);
    return this;
  }

  /**
   * Writes a 64-bit unsigned integer (a `bigint` in 0..2^64 − 1), little-endian.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * frame.writer().writeBigU64(1n << 40n);
   * console.log(frame.reader().readBigU64()); // 1099511627776n
   * frame.drop();
   * ```
   */
  writeBigU64(v: bigint): this {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw new FrameUseError('BadValue', `${describe(v)} is not a u64 bigint`);
    this.dv.setBigUint64(this.claim(8), v, true);
    return this;
  }

  /**
   * Sets every byte left to `byte`; the writer is then at the end.
   *
   * @example
   * ```ts
   * const frame = sys.allocFrame();
   * const w = frame.writer().writeU8(1).fill(2);
   * console.log(w.avail, frame.bytes()[0], frame.bytes()[4095]); // 0 1 2
   * frame.drop();
   * ```
   */
  fill(byte: number): this {
    checkInt(byte, 0, 0xff);
    const at = this.claim(this.end - this.at);
    this.fillAt(at, byte, this.end - at);
    return this;
  }
}

function checkInt(v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new FrameUseError('BadValue', `${describe(v)} is not an integer in [${min}, ${max}]`);
  }
}
