/**
 * A tiny WebAssembly assembler for pageframe's built-in modules (`atomics.ts`, `region/fast-path.ts`):
 * the opcodes they use and `assemble`, which lays out a module that imports one shared memory
 * (`m.m`, up to 4 GiB) and immutable i32 globals (`m.<name>`), and exports its functions. The
 * modules are a few hundred bytes, built and compiled at run time: nothing to fetch or bundle.
 */

/** The opcodes used here (see the WebAssembly core and threads specifications). */
export const Op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  i32Load: 0x28,
  i32Store: 0x36,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32GtS: 0x4a,
  i32LeS: 0x4c,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  /** Prefix of the threads proposal's atomic instructions. */
  atomic: 0xfe,
  /** Prefix of `memory.fill` and friends. */
  misc: 0xfc,
  /** The empty block type. */
  void: 0x40,
  i32: 0x7f,
} as const;

/** Atomic opcodes (after `Op.atomic`). */
export const AtomicOp = { load: 0x10, store: 0x17, add: 0x1e, sub: 0x25, cmpxchg: 0x48 } as const;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  n >>>= 0;
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer (what `i32.const` takes). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** `i32.const n`. */
export function constI32(n: number): number[] {
  return [Op.i32Const, ...sleb(n)];
}

/** The memarg of an aligned 32-bit access at static byte offset `offset`. */
export function word(offset = 0): number[] {
  return [2, ...uleb(offset)];
}

/** A function of the module: i32 parameters, at most one i32 result, i32 locals. */
export interface WasmFunc {
  readonly name: string;
  readonly params: number;
  readonly results: 0 | 1;
  readonly locals?: number;
  /** The body's instructions, without the locals declaration and the final `end`. */
  readonly body: readonly number[];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

function section(id: number, items: readonly (readonly number[])[]): number[] {
  const body = [...uleb(items.length), ...items.flat()];
  return [id, ...uleb(body.length), ...body];
}

/** The bytes of a module importing memory `m.m` and the i32 globals `m.<globals[i]>` (global i). */
export function assemble(globals: readonly string[], funcs: readonly WasmFunc[]): Uint8Array<ArrayBuffer> {
  const types = funcs.map((f) => [0x60, ...uleb(f.params), ...Array<number>(f.params).fill(Op.i32), f.results, ...Array<number>(f.results).fill(Op.i32)]);
  const imports = [
    [...name('m'), ...name('m'), 0x02, 0x03, ...uleb(0), ...uleb(65536)], // shared memory, 0..65536 pages
    ...globals.map((g) => [...name('m'), ...name(g), 0x03, Op.i32, 0x00]), // immutable i32
  ];
  const codes = funcs.map((f) => {
    const locals = f.locals ?? 0;
    const code = [...(locals > 0 ? [1, ...uleb(locals), Op.i32] : [0]), ...f.body, Op.end];
    return [...uleb(code.length), ...code];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs.map((_, i) => uleb(i))),
    ...section(7, funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])),
    ...section(10, codes),
  ]);
}

/** Compiles `bytes`, or null where WebAssembly or its threads feature is unavailable. */
export function compile(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module | null {
  try {
    return typeof WebAssembly === 'undefined' ? null : new WebAssembly.Module(bytes);
  } catch {
    return null;
  }
}

/**
 * An instance of `module` on `memory` with the globals' values, or null if it cannot be made
 * (no module, a memory that is not a shared WebAssembly.Memory).
 */
export function instantiate(module: WebAssembly.Module | null, memory: unknown, globals: Record<string, number>): WebAssembly.Exports | null {
  if (module === null || typeof WebAssembly === 'undefined' || !(memory instanceof WebAssembly.Memory)) return null;
  try {
    return new WebAssembly.Instance(module, { m: { m: memory, ...globals } }).exports;
  } catch {
    return null;
  }
}
