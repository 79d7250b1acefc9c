// What the demo's producer and consumers agree on: the frame metadata type and the data.
import { defineMeta } from '../../dist/index.js';

/** An untyped frame of data: its sequence number and the checksum of its bytes. */
export const Block = defineMeta('demo.block', { seq: 'u32', checksum: 'atomic-u32' }, { untyped: true });

/** The sequence number of the frame that tells a consumer to stop. */
export const STOP = 0xffff_ffff;

/**
 * Fills `bytes` (a multiple of 4 long, 4-aligned) with data derived from `seq`, a 32-bit word at
 * a time; returns its checksum.
 * @param {Uint8Array} bytes
 * @param {number} seq
 */
export function fillBlock(bytes, seq) {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  let x = (seq * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return checksum(bytes);
}

/**
 * A simple rolling checksum (FNV-1a over 32-bit words) of `bytes` (a multiple of 4 long, 4-aligned).
 * @param {Uint8Array} bytes
 */
export function checksum(bytes) {
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
}
