/**
 * The typed-array views of one region, all starting at the region's first byte, so a byte
 * address `a` in the region is `u8[a]`, `u32[a >> 2]`, `f64[a >> 3]`, ...
 */

export interface MemoryViews {
  readonly u8: Uint8Array;
  readonly i8: Int8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly u64: BigUint64Array;
  readonly i64: BigInt64Array;
}

/** Views on `bytes` bytes of `buffer` from `offset` (a multiple of 8). */
export function makeViews(buffer: SharedArrayBuffer | ArrayBuffer, offset: number, bytes: number): MemoryViews {
  return {
    u8: new Uint8Array(buffer, offset, bytes),
    i8: new Int8Array(buffer, offset, bytes),
    u16: new Uint16Array(buffer, offset, bytes >> 1),
    i16: new Int16Array(buffer, offset, bytes >> 1),
    u32: new Uint32Array(buffer, offset, bytes >> 2),
    i32: new Int32Array(buffer, offset, bytes >> 2),
    f32: new Float32Array(buffer, offset, bytes >> 2),
    f64: new Float64Array(buffer, offset, bytes >> 3),
    u64: new BigUint64Array(buffer, offset, bytes >> 3),
    i64: new BigInt64Array(buffer, offset, bytes >> 3),
  };
}

/**
 * What pageframe's public types say of a `WebAssembly.Memory`: the two members it uses, written
 * out, so that the published declarations need neither the DOM lib nor any other declaration of
 * the `WebAssembly` namespace (a Node project's `lib: ["ES2022"]` has none). A real
 * `WebAssembly.Memory` is one; at run time `create` and `attach` check `instanceof`.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(delta: number): number;
}

/** The SharedArrayBuffer of `memory` as it is now (a grown WebAssembly.Memory has a new one). */
export function currentBuffer(memory: SharedArrayBuffer | WasmMemory): SharedArrayBuffer {
  if (typeof WebAssembly !== 'undefined' && memory instanceof WebAssembly.Memory) {
    // A grow in another thread reaches this thread's `buffer` only when it handles the engine's
    // notice of it (seen late on Deno); `grow(0)` brings it up to the memory's size at once.
    memory.grow(0);
    return memory.buffer as unknown as SharedArrayBuffer;
  }
  return memory as SharedArrayBuffer;
}
