/**
 * The type registry: the metadata types of a region by id, so that every worker that attaches
 * maps a type to the same id (the kernel's vtable pointer) and can read the metadata of a type
 * it never defined. It knows types only by their descriptor, a JSON string `{"n": name, ...}`
 * that `frame/meta-type.ts` makes; it never sees a `MetaType`.
 *
 *   header: H_REG_LOCK (owner, sleepers) | H_REG_COUNT (types registered; ids 1..count)
 *   entry:  state (0 empty, 1 ready) | flags | descriptor length | storage size | descriptor (UTF-8)
 *           one of TYPE_ENTRY_BYTES per id, from H_REGISTRY (geometry.ts)
 *
 * Who writes: an entry is written once, by `registerType` under H_REG_LOCK, and then only its
 * `TYPE_FLAG_ON_DROP` bit is ever set (`markOnDrop`, an atomic or). ORDER: the entry is complete
 * before its state says ready and before the count covers it, so a reader that sees either (both
 * read with `Atomics.load`) sees the descriptor.
 */
import { MetaTypeError } from '../base/errors.js';
import { MAX_TYPES } from '../base/limits.js';
import { forceRelease, lock, lockOwner, unlock } from '../shm/lock.js';
import { H_REGISTRY, H_REG_COUNT, H_REG_LOCK, TYPE_ENTRY_BYTES, TYPE_ENTRY_WORDS } from './geometry.js';
import type { Region } from './region.js';

/** Type entry words: state (0 empty, 1 ready), flags, descriptor length in bytes, storage size. */
const T_STATE = 0;
export const T_FLAGS = 1;
const T_DESC_LEN = 2;
const T_SIZE = 3;
const T_DESC = 4; // first word of the UTF-8 descriptor
const TYPE_DESC_MAX = TYPE_ENTRY_BYTES - T_DESC * 4;
const TYPE_FLAG_UNTYPED = 1;
export const TYPE_FLAG_ON_DROP = 2;

/** Word index of the registry entry of type `id` (ids start at 1). */
export function entryWord(id: number): number {
  return H_REGISTRY + (id - 1) * TYPE_ENTRY_WORDS;
}

/**
 * Whether any worker registered an `onDrop` for type `id` in this region. A plain read: the flag
 * is set once, by whoever defines the onDrop (`markOnDrop`); a drop racing with that definition
 * may miss it, as it may in any order of the two.
 */
export function hasOnDrop(r: Region, id: number): boolean {
  return (r.i32[entryWord(id) + T_FLAGS] & TYPE_FLAG_ON_DROP) !== 0;
}

/** Marks type `id` as having an `onDrop` in some worker. ORDER: an atomic or, set once, never cleared. */
export function markOnDrop(r: Region, id: number): void {
  Atomics.or(r.i32, entryWord(id) + T_FLAGS, TYPE_FLAG_ON_DROP);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * How many type ids the region has registered (ids 1..that), read atomically: racy, as a type
 * may be registered in another worker at any moment. A header word beyond 0..MAX_TYPES (a broken
 * header) is clamped, so a caller can size a table by it.
 */
export function registeredCount(r: Region): number {
  return Math.min(Math.max(Atomics.load(r.i32, H_REG_COUNT), 0), MAX_TYPES);
}

function readDescriptor(r: Region, id: number): string {
  const base = entryWord(id);
  const at = (base + T_DESC) * 4;
  // slice() copies into a non-shared buffer: TextDecoder refuses shared views in browsers.
  return decoder.decode(r.mem.u8.slice(at, at + r.i32[base + T_DESC_LEN]));
}

/** The descriptor of type `id`, or undefined if no type has that id. */
export function registeredDescriptor(r: Region, id: number): string | undefined {
  if (!(id >= 1 && id <= MAX_TYPES) || Atomics.load(r.i32, entryWord(id) + T_STATE) !== 1) return undefined;
  return readDescriptor(r, id);
}

/** The id of the type with this descriptor, or 0 if it is not registered. */
export function findType(r: Region, descriptor: string): number {
  const count = registeredCount(r);
  for (let id = 1; id <= count; id++) if (readDescriptor(r, id) === descriptor) return id;
  return 0;
}

/**
 * The id of the type with this descriptor, registering it if it is new. Throws `MetaTypeError`:
 * `Conflict` if another descriptor has the same type name, `TooLarge` if the descriptor does not
 * fit an entry, `RegistryFull` past MAX_TYPES; then nothing changed. With `onDrop`, the type is
 * marked as having one (also when it was registered already).
 */
export function registerType(r: Region, descriptor: string, name: string, size: number, untyped: boolean, onDrop: boolean): number {
  const i32 = r.i32;
  const bytes = encoder.encode(descriptor);
  lock(i32, H_REG_LOCK, r.token);
  try {
    const count = i32[H_REG_COUNT];
    for (let id = 1; id <= count; id++) {
      const desc = readDescriptor(r, id);
      if (desc === descriptor) {
        if (onDrop) markOnDrop(r, id);
        return id;
      }
      if ((JSON.parse(desc) as { n: string }).n === name) {
        throw new MetaTypeError('Conflict', `'${name}' is registered in this region as ${desc}, not ${descriptor}`);
      }
    }
    if (bytes.length > TYPE_DESC_MAX) {
      throw new MetaTypeError('TooLarge', `the descriptor of '${name}' takes ${bytes.length} bytes; a registry entry holds ${TYPE_DESC_MAX}`);
    }
    if (count >= MAX_TYPES) throw new MetaTypeError('RegistryFull', `the region already has ${MAX_TYPES} metadata types`);
    const id = count + 1;
    const base = entryWord(id);
    // OWNER: an entry past the count is nobody's but the lock holder's.
    r.mem.u8.set(bytes, (base + T_DESC) * 4);
    i32[base + T_DESC_LEN] = bytes.length;
    i32[base + T_SIZE] = size;
    i32[base + T_FLAGS] = (untyped ? TYPE_FLAG_UNTYPED : 0) | (onDrop ? TYPE_FLAG_ON_DROP : 0);
    // ORDER: see the module: ready, then counted.
    Atomics.store(i32, base + T_STATE, 1);
    Atomics.store(i32, H_REG_COUNT, id);
    return id;
  } finally {
    unlock(i32, H_REG_LOCK);
  }
}

/**
 * `reclaimWorker`: releases the registry's lock if the dead worker whose token is `deadToken`
 * held it; whether it did. An entry is complete before the one write that publishes it (see the
 * module), so what a dead holder left needs no repair.
 * ORDER: as `forceRelease` (shm/lock.ts): one CAS from the dead token.
 */
export function releaseRegistryFrom(r: Region, deadToken: number): boolean {
  return lockOwner(r.i32, H_REG_LOCK) === deadToken && forceRelease(r.i32, H_REG_LOCK, deadToken);
}
