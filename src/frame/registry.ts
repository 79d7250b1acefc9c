/**
 * The region's type registry: metadata type descriptors in the header, so every worker that
 * attaches maps a type name to the same id (the kernel's vtable pointer) and can read the
 * metadata of a type it never defined itself.
 */
import { MetaTypeError } from '../base/errors.js';
import { H_REGISTRY, H_REG_COUNT, H_REG_LOCK, TYPE_ENTRY_WORDS } from '../region/geometry.js';
import { TYPE_DESC_MAX, TYPE_FLAG_ON_DROP, TYPE_FLAG_UNTYPED, T_DESC, T_DESC_LEN, T_FLAGS, T_SIZE, T_STATE } from '../region/registry.js';
import { MAX_TYPES } from '../base/limits.js';
import { lock, unlock } from '../shm/lock.js';
import { type MetaType, setOnDropPublisher, typeFromDescriptor } from './meta-type.js';
import type { MemoryViews } from '../shm/views.js';
import type { Region } from '../region/region.js';

/** What the registry needs of a region. */
export interface RegistryHost {
  readonly _region: Region;
  /** Local types by id (index 0 unused). */
  readonly _types: (MetaType | undefined)[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function entry(id: number): number {
  return H_REGISTRY + (id - 1) * TYPE_ENTRY_WORDS;
}

/** The id of `type` in `sys`, registering it on first use. */
export function typeIdOf(sys: RegistryHost, type: MetaType): number {
  if (type._sys === sys) return type._id;
  return typeIdSlow(sys, type);
}

function typeIdSlow(sys: RegistryHost, type: MetaType): number {
  let id = 0;
  for (const r of type._regions) if (r.sys === sys) id = r.id;
  if (id === 0) {
    id = register(sys, type);
    type._regions.push({ sys, id });
    sys._types[id] = type;
  }
  type._sys = sys;
  type._id = id;
  return id;
}

/**
 * The id of `type` in `sys` if it is registered there, else 0; never registers it (for type
 * tests, which must not change the region).
 */
export function lookupTypeId(sys: RegistryHost, type: MetaType): number {
  if (type._sys === sys) return type._id;
  for (const r of type._regions) if (r.sys === sys) return r.id;
  const count = Atomics.load(sys._region.mem.i32, H_REG_COUNT);
  for (let id = 1; id <= count; id++) {
    if (readDescriptor(sys._region.mem, id) === type._descriptor) return typeIdSlow(sys, type);
  }
  return 0;
}

/** The local type for id `id` in `sys` (reading the registry for a type this worker never used). */
export function typeById(sys: RegistryHost, id: number): MetaType {
  const known = sys._types[id];
  if (known !== undefined) return known;
  const i32 = sys._region.mem.i32;
  if (!(id >= 1 && id <= MAX_TYPES) || Atomics.load(i32, entry(id) + T_STATE) !== 1) {
    throw new MetaTypeError('BadSchema', `no metadata type with id ${id} in this region`);
  }
  const type = typeFromDescriptor(readDescriptor(sys._region.mem, id));
  const seen = type._regions.find((r) => r.sys === sys);
  if (seen === undefined) type._regions.push({ sys, id });
  sys._types[id] = type;
  return type;
}

/** Whether any worker registered an `onDrop` for type `id` in this region. */
export function typeHasOnDrop(sys: RegistryHost, id: number): boolean {
  // A plain read: the flag is set once, by whoever defines the onDrop; a drop racing with that
  // definition may miss it, as it may in any order of the two.
  return (sys._region.mem.i32[entry(id) + T_FLAGS] & TYPE_FLAG_ON_DROP) !== 0;
}

/** Names of all registered types by id (index 0 unused). */
export function registeredNames(sys: RegistryHost): string[] {
  const count = Atomics.load(sys._region.mem.i32, H_REG_COUNT);
  const names = [''];
  for (let id = 1; id <= count; id++) names.push(typeById(sys, id).name);
  return names;
}

function readDescriptor(mem: MemoryViews, id: number): string {
  const base = entry(id);
  const len = mem.i32[base + T_DESC_LEN];
  const at = (base + T_DESC) * 4;
  // slice() copies into a non-shared buffer: TextDecoder refuses shared views in browsers.
  return decoder.decode(mem.u8.slice(at, at + len));
}

function register(sys: RegistryHost, type: MetaType): number {
  const mem = sys._region.mem;
  const i32 = mem.i32;
  const bytes = encoder.encode(type._descriptor);
  lock(i32, H_REG_LOCK, sys._region.token);
  try {
    const count = i32[H_REG_COUNT];
    for (let id = 1; id <= count; id++) {
      const desc = readDescriptor(mem, id);
      if (desc === type._descriptor) {
        if (type._onDrop !== undefined) Atomics.or(i32, entry(id) + T_FLAGS, TYPE_FLAG_ON_DROP);
        return id;
      }
      const other = (JSON.parse(desc) as { n: string }).n;
      if (other === type.name) {
        throw new MetaTypeError(
          'Conflict',
          `'${type.name}' is registered in this region as ${desc}, not ${type._descriptor}`,
        );
      }
    }
    if (bytes.length > TYPE_DESC_MAX) {
      throw new MetaTypeError(
        'TooLarge',
        `the descriptor of '${type.name}' takes ${bytes.length} bytes; a registry entry holds ${TYPE_DESC_MAX}`,
      );
    }
    if (count >= MAX_TYPES) {
      throw new MetaTypeError('RegistryFull', `the region already has ${MAX_TYPES} metadata types`);
    }
    const id = count + 1;
    const base = entry(id);
    mem.u8.set(bytes, (base + T_DESC) * 4);
    i32[base + T_DESC_LEN] = bytes.length;
    i32[base + T_SIZE] = type.size;
    i32[base + T_FLAGS] = (type.untyped ? TYPE_FLAG_UNTYPED : 0) | (type._onDrop ? TYPE_FLAG_ON_DROP : 0);
    // ORDER: the entry is complete before its state says ready and before the count covers it,
    // so a reader that sees either sees the descriptor.
    Atomics.store(i32, base + T_STATE, 1);
    Atomics.store(i32, H_REG_COUNT, id);
    return id;
  } finally {
    unlock(i32, H_REG_LOCK);
  }
}

setOnDropPublisher((sys, id) => {
  Atomics.or((sys as RegistryHost)._region.mem.i32, entry(id) + T_FLAGS, TYPE_FLAG_ON_DROP);
});
