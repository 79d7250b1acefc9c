/**
 * Structs: records of typed fields at any address of the frames (`defineStruct`), read and
 * written in place by every worker, as C structs over shared memory. The field kinds, their
 * layout, codecs and `AtomicCell`s are the metadata types' (`frame/fields.ts`), without the
 * 40-byte limit of a slot: a struct lives in the bytes of a frame (`S.at(sys, frame.paddr)`), of
 * a heap block (`S.alloc`, `sys.heap`), or in an array of them (`S.array`).
 *
 * Who writes a struct's bytes: whoever the program says. A struct is plain shared memory, like a
 * typed array over a `SharedArrayBuffer`: plain fields are plain loads and stores, ordered for
 * another worker by whatever hands it the address (a `postMessage`, a `FrameChannel`, an atomic
 * field); atomic fields are `Atomics` operations, safe from any number of workers at once.
 */
import { checkNumber, describe } from '../base/args.js';
import { FrameUseError, MetaTypeError, hex } from '../base/errors.js';
import type { Paddr } from '../base/units.js';
import { reachFrames } from '../region/header.js';
import type { FrameContext } from '../frame/context.js';
import {
  checkDefinition,
  checkInit,
  defineOnce,
  layoutFields,
  makeProto,
  makeView,
  writeInit,
  type FieldLayout,
  type Schema,
  type ViewOwner,
  type ViewState,
} from '../frame/fields.js';
import type { MetaInit, MetaMut } from '../frame/meta-type.js';
import type { Heap } from './heap.js';

/**
 * A struct as a program sees it: each plain field a property, read and written in place (a
 * value that does not fit its field is `FrameUseError('BadValue')`); each atomic field an
 * `AtomicCell`; `addr`, where the struct is; `toJSON()`, a plain snapshot (64-bit fields as
 * decimal strings).
 *
 * @example
 * ```ts
 * const Point = defineStruct('app.point', { x: 'f64', y: 'f64', hits: 'atomic-u32' });
 * const frame = sys.allocFrame();
 * const p: StructView<typeof Point.schema> = Point.at(sys, frame.paddr);
 * p.x = 1.5;
 * p.hits.add(2);
 * console.log(p.x, p.y, p.hits.load(), p.addr === frame.paddr); // 1.5 0 2 true
 * console.log(JSON.stringify(p)); // {"x":1.5,"y":0,"hits":2}
 * frame.drop();
 * ```
 */
export type StructView<S extends Schema> = MetaMut<S> & {
  /** The struct's address: a frame's paddr plus an offset, the same in every worker. */
  readonly addr: number;
};

/** Field names a struct may not have: its views' own members. */
const STRUCT_RESERVED = ['addr'];

/** Structs defined in this worker, by name: the same name gives the same object. */
const definedStructs = new Map<string, StructType>();

/**
 * Who a struct view belongs to: its address and system, and whether `S.free` gave its block
 * back (then every use is `Dropped`). One per `S.at` / `S.alloc` view, one per array.
 */
class StructOwner implements ViewOwner {
  _live = true;
  constructor(
    readonly paddr: Paddr,
    readonly _sys: FrameContext,
    private readonly type: StructType,
  ) {}

  _deadError(): FrameUseError {
    return new FrameUseError('Dropped', `struct '${this.type.name}' at ${hex(this.paddr)} used after S.free gave its block back`);
  }
}

/**
 * A kind of struct: its name, fields, and their layout (`size`, `align`). Made by
 * `defineStruct`; the same name and fields give the same layout in every worker.
 *
 * @example
 * ```ts
 * const Particle = defineStruct('app.particle', { x: 'f32', y: 'f32', alive: 'bool' });
 * console.log(Particle.name, Particle.size, Particle.align); // app.particle 12 4
 * const frame = sys.allocFrame();
 * const ps = Particle.array(sys, frame.paddr, 100); // 100 × 12 bytes of the frame
 * ps.at(99).x = 2;
 * console.log(ps.at(99).x, ps.at(98).x); // 2 0
 * frame.drop();
 * ```
 */
export class StructType<S extends Schema = Schema> {
  /**
   * Bytes of one struct: its fields, then padding to `align`, so that `size` is also the stride
   * of an array of them.
   *
   * @example
   * ```ts
   * console.log(defineStruct('app.size', { a: 'f64', b: 'u8' }).size); // 16: 9 bytes of fields, padded to 8
   * ```
   */
  readonly size: number;
  /**
   * The alignment of a struct's address: its largest field's size (1, 2, 4 or 8).
   *
   * @example
   * ```ts
   * console.log(defineStruct('app.align', { a: 'u16', b: 'u8' }).align); // 2
   * ```
   */
  readonly align: number;
  /** @internal Fields in storage order. */
  readonly _fields: readonly FieldLayout[];
  /** @internal The name and fields, canonical: what tells two definitions apart. */
  readonly _descriptor: string;
  /** @internal The prototype of the views. */
  readonly _proto: object;

  /** @internal Use `defineStruct`. */
  constructor(
    /**
     * The name given to `defineStruct`.
     *
     * @example
     * ```ts
     * console.log(defineStruct('app.named', { n: 'u32' }).name); // app.named
     * ```
     */
    readonly name: string,
    /**
     * The fields, as given to `defineStruct`.
     *
     * @example
     * ```ts
     * console.log(defineStruct('app.fields', { n: 'u32', ok: 'bool' }).schema); // { n: 'u32', ok: 'bool' }
     * ```
     */
    readonly schema: S,
  ) {
    const fields = layoutFields(name, schema, STRUCT_RESERVED);
    const first = fields[0];
    const last = fields[fields.length - 1];
    if (first === undefined || last === undefined) throw new MetaTypeError('BadSchema', `struct '${name}' has no fields`);
    this.align = first.size; // largest first: the first field's size is the largest
    this.size = Math.ceil((last.offset + last.size) / this.align) * this.align;
    this._fields = fields;
    this._descriptor = JSON.stringify({ n: name, f: fields.map((f) => [f.name, f.kind]) });
    this._proto = makeProto(fields, true, name, `struct '${name}' at`);
    Object.defineProperty(this._proto, 'addr', {
      get(this: ViewState) {
        return this._$h.paddr;
      },
      set() {
        throw new FrameUseError('ReadOnly', `addr of a struct view is where it is: make a view of another address with S.at`);
      },
      enumerable: false,
    });
  }

  /**
   * A view of the struct at `addr` (a frame's paddr plus an offset: a heap block's address, or
   * any bytes of a frame this worker may use). Nothing is checked but the address: it must be
   * a multiple of `align` with the whole struct inside the region (`FrameUseError('BadRange')`;
   * a non-number is `BadValue`). Any number of views of one struct may exist, in any worker.
   *
   * @example
   * ```ts
   * const Counter = defineStruct('app.counter-struct', { count: 'atomic-u32', owner: 'u16' });
   * const frame = sys.allocFrame();
   * const a = Counter.at(sys, frame.paddr + 64);
   * const b = Counter.at(sys, frame.paddr + 64); // another view of the same bytes
   * a.count.add(5);
   * b.owner = 7;
   * console.log(b.count.load(), a.owner); // 5 7
   * frame.drop();
   * ```
   */
  at(sys: FrameContext, addr: number): StructView<S> {
    sys._assertOpen();
    this.checkSpan(sys, addr, 1);
    return makeView(this._proto, new StructOwner(addr, sys, this as StructType), sys._region.mem, sys._region.frameByte + addr) as StructView<S>;
  }

  /**
   * A new struct on the heap, its fields set from `init` and the others zero (false, null): a
   * block of `size` bytes from `sys.heap.alloc`, aligned to 8 (at least `align`, and the heap's
   * fast path). A bad `init` is `FrameUseError('BadValue')` before anything is allocated; the
   * heap's errors (`AllocError('NoMemory')`) as they come. Give it back with `free`, from any
   * worker: post `view.addr`, and there `S.at(sys, addr)` is the same struct.
   *
   * @example
   * ```ts
   * const Job = defineStruct('app.job', { id: 'u32', done: 'atomic-u32' });
   * const job = Job.alloc(sys, { id: 42 });
   * console.log(job.id, job.done.load(), sys.heap.sizeOf(job.addr)); // 42 0 8
   * Job.free(sys, job);
   * sys.heap.trim();
   * ```
   */
  alloc(sys: FrameContext & { readonly heap: Heap }, init?: MetaInit<S>): StructView<S> {
    sys._assertOpen();
    checkInit(this.name, this._fields, init);
    const addr = sys.heap.alloc(this.size, Math.max(this.align, 8));
    let view: StructView<S>;
    try {
      view = this.at(sys, addr);
    } catch (e) {
      sys.heap.free(addr); // cannot happen for a block of the heap; a failed call changes nothing
      throw e;
    }
    // OWNER: a block just allocated: no other worker knows its address yet.
    writeInit(sys._region.mem, sys._region.frameByte + addr, this._fields, init, true);
    return view;
  }

  /**
   * Gives the struct of `view` back to the heap (`sys.heap.free(view.addr)`), from any worker,
   * whichever allocated it; `view` refuses every use after (`Dropped`), and a second `free` of it
   * too. Other views of the same address are not told: do not use them, nor free the struct
   * twice through two views (the heap sees that only where it is cheap to, and always in checked
   * mode). `FrameUseError('BadValue')` for a view of another struct type or system.
   *
   * @example
   * ```ts
   * const Node = defineStruct('app.node', { value: 'f64', next: 'u32' });
   * const node = Node.alloc(sys, { value: 0.5 });
   * Node.free(sys, node);
   * let code = '';
   * try {
   *   node.value = 1; // a freed view refuses every use
   * } catch (e) {
   *   code = (e as FrameUseError).code;
   * }
   * console.log(code); // Dropped
   * sys.heap.trim();
   * ```
   */
  free(sys: FrameContext & { readonly heap: Heap }, view: StructView<S>): void {
    sys._assertOpen();
    const owner = this.ownerOf(view, sys);
    if (!owner._live) throw owner._deadError();
    sys.heap.free(owner.paddr);
    owner._live = false;
  }

  /**
   * An array of `n` structs from `addr`, one every `size` bytes (`addr` a multiple of `align`,
   * all `n` inside the region: else `FrameUseError('BadRange')`; `n` an integer >= 0). For an
   * array on the heap: `S.array(sys, sys.heap.alloc(n * S.size, S.align), n)`.
   *
   * @example
   * ```ts
   * const Cell = defineStruct('app.cell', { v: 'i32' });
   * const frame = sys.allocFrame();
   * const cells = Cell.array(sys, frame.paddr, 1024); // the whole frame
   * for (const [i, cell] of [...cells].entries()) cell.v = -i;
   * console.log(cells.length, cells.at(1023).v); // 1024 -1023
   * frame.drop();
   * ```
   */
  array(sys: FrameContext, addr: number, n: number): StructArray<S> {
    sys._assertOpen();
    checkNumber(n, 'n');
    if (!Number.isInteger(n) || n < 0) throw new FrameUseError('BadValue', `an array's length is an integer >= 0, not ${describe(n)}`);
    this.checkSpan(sys, addr, n);
    return new StructArray(this, sys, addr, n);
  }

  /** `StructType(name)`, for logs. */
  toString(): string {
    return `StructType(${this.name})`;
  }

  /** Refuses `addr` unless `n` structs from it are inside the region and it is aligned. */
  private checkSpan(sys: FrameContext, addr: unknown, n: number): asserts addr is number {
    checkNumber(addr, 'addr');
    if (!(addr >= 0) || addr % this.align !== 0) {
      throw new FrameUseError('BadRange', `struct '${this.name}' at ${describe(addr)}: not an address aligned to ${this.align}`);
    }
    const end = addr + n * this.size;
    reachFrames(sys._region, end); // frames another worker added by a grow
    if (end > sys._region.maxPaddr) {
      throw new FrameUseError('BadRange', `struct '${this.name}' × ${n} at ${hex(addr)} ends at ${hex(end)}, past the region's frames (${hex(sys._region.maxPaddr)})`);
    }
  }

  /** The owner of `view` if it is a view of this type in `sys`, else `BadValue`. */
  private ownerOf(view: unknown, sys: FrameContext): StructOwner {
    if (view === null || typeof view !== 'object' || Object.getPrototypeOf(view) !== this._proto) {
      throw new FrameUseError('BadValue', `not a view of struct '${this.name}': ${describe(view)}`);
    }
    const owner = (view as ViewState)._$h as StructOwner;
    if (owner._sys !== sys) throw new FrameUseError('BadValue', `a view of struct '${this.name}' of another FrameSystem`);
    return owner;
  }
}

/**
 * `n` structs of one type, one after the other from `addr` (`S.array`); each `at(i)` is a view
 * as `S.at` gives, and the array iterates over them.
 *
 * @example
 * ```ts
 * const Pixel = defineStruct('app.pixel', { r: 'u8', g: 'u8', b: 'u8', a: 'u8' });
 * const frame = sys.allocFrame();
 * const pixels: StructArray<typeof Pixel.schema> = Pixel.array(sys, frame.paddr, 16);
 * for (const p of pixels) p.a = 255;
 * console.log(pixels.at(15).a, frame.bytes()[15 * 4]); // 255 255 (fields of one size go by name: a first)
 * frame.drop();
 * ```
 */
export class StructArray<S extends Schema = Schema> implements Iterable<StructView<S>> {
  private readonly owner: StructOwner;
  private readonly mem: FrameContext['_region']['mem'];

  /** @internal Use `S.array`. */
  constructor(
    /**
     * The type of the structs.
     *
     * @example
     * ```ts
     * const P = defineStruct('app.array-type', { n: 'u32' });
     * const frame = sys.allocFrame();
     * console.log(P.array(sys, frame.paddr, 4).type === P); // true
     * frame.drop();
     * ```
     */
    readonly type: StructType<S>,
    sys: FrameContext,
    /**
     * The address of the first struct.
     *
     * @example
     * ```ts
     * const P = defineStruct('app.array-addr', { n: 'u32' });
     * const frame = sys.allocFrame();
     * console.log(P.array(sys, frame.paddr + 8, 4).addr === frame.paddr + 8); // true
     * frame.drop();
     * ```
     */
    readonly addr: number,
    /**
     * How many structs.
     *
     * @example
     * ```ts
     * const P = defineStruct('app.array-length', { n: 'u32' });
     * const frame = sys.allocFrame();
     * console.log(P.array(sys, frame.paddr, 4).length); // 4
     * frame.drop();
     * ```
     */
    readonly length: number,
  ) {
    this.owner = new StructOwner(addr, sys, type as StructType);
    this.mem = sys._region.mem; // covers the whole array: S.array checked it is inside
  }

  /**
   * The struct at index `i` (`FrameUseError('BadRange')` unless 0 <= i < length).
   *
   * @example
   * ```ts
   * const P = defineStruct('app.array-at', { n: 'u32' });
   * const frame = sys.allocFrame();
   * const ps = P.array(sys, frame.paddr, 4);
   * ps.at(3).n = 9;
   * console.log(ps.at(3).n, ps.at(3).addr - ps.addr); // 9 12
   * frame.drop();
   * ```
   */
  at(i: number): StructView<S> {
    checkNumber(i, 'index');
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new FrameUseError('BadRange', `index ${describe(i)} of an array of ${this.length} '${this.type.name}'`);
    }
    const addr = this.addr + i * this.type.size;
    const sys = this.owner._sys;
    sys._assertOpen();
    const owner = i === 0 ? this.owner : new StructOwner(addr, sys, this.type as StructType);
    return makeView(this.type._proto, owner, this.mem, sys._region.frameByte + addr) as StructView<S>;
  }

  /**
   * The structs in order.
   *
   * @example
   * ```ts
   * const P = defineStruct('app.array-iter', { n: 'u32' });
   * const frame = sys.allocFrame();
   * const ps = P.array(sys, frame.paddr, 3);
   * let i = 0;
   * for (const p of ps) p.n = i++;
   * console.log([...ps].map((p) => p.n)); // [ 0, 1, 2 ]
   * frame.drop();
   * ```
   */
  *[Symbol.iterator](): Generator<StructView<S>, void, undefined> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}

/**
 * Defines (or looks up) the struct `name` with fields `schema`: the field kinds of `defineMeta`
 * (integers, floats, `bool`, `paddr`, `atomic-u32` / `atomic-i32`), any number of them, laid out
 * largest first (then by name), so the same fields give the same layout in every worker and no
 * field needs padding. Each worker that uses a struct defines it with the same fields.
 *
 * Defining it again with the same fields returns the same type; with others,
 * `MetaTypeError('Conflict')`. No fields, a bad name (`addr`, `toJSON`, ...) or an unknown kind:
 * `MetaTypeError('BadSchema')`, as `defineMeta`.
 *
 * @example
 * ```ts
 * const Account = defineStruct('app.account', { id: 'u32', balance: 'i64', version: 'atomic-u32' });
 * console.log(Account.size, Account.align); // 16 8
 * const frame = sys.allocFrame();
 * const acct = Account.at(sys, frame.paddr); // or Account.alloc(sys, { id: 1 }) on the heap
 * acct.balance = -5n;
 * acct.version.add(1);
 * console.log(acct.balance, acct.version.load()); // -5n 1
 * frame.drop();
 * ```
 */
export function defineStruct<const S extends Schema>(name: string, schema: S): StructType<S> {
  checkDefinition(name, schema);
  return defineOnce(definedStructs, new StructType(name, schema) as unknown as StructType) as unknown as StructType<S>;
}
