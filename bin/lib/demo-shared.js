// What the demo's producer and consumers agree on: the frame metadata type and the data.
import { defineMeta } from '../../dist/index.js';

/** An untyped frame of data: its sequence number and the checksum of its bytes. */
export const Block = defineMeta('demo.block', { seq: 'u32', checksum: 'atomic-u32' }, { untyped: true });

/** The sequence number of the frame that tells a consumer to stop. */
export const STOP = 0xffff_ffff;

/** Blocks repeat after this many sequence numbers (each a different window of the noise). */
const BLOCKS = 1024;

/**
 * The demo's data, made once: 8 KiB of noise, and the checksum of each 4 KiB window of it that a
 * block is (block `seq` starts at byte 4 × (seq mod 1024)). Making a block is then one copy, so
 * the run measures the hand-off and the consumers' check rather than a generator.
 */
export function makeBlocks() {
  const noise = new Uint8Array(2 * 4096);
  const words = new Uint32Array(noise.buffer);
  let x = 2654435761;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  const sums = new Uint32Array(BLOCKS);
  for (let k = 0; k < BLOCKS; k++) sums[k] = checksum(noise.subarray(4 * k, 4 * k + 4096));
  return {
    /**
     * Block `seq`: its bytes (a view of the noise: copy them) and their checksum.
     * @param {number} seq
     */
    block(seq) {
      const k = seq % BLOCKS;
      return { bytes: noise.subarray(4 * k, 4 * k + 4096), sum: sums[k] };
    },
  };
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
