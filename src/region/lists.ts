/**
 * The linked-list table: one LIST_WORDS-word entry per list (ids 1..MAX_LISTS), from H_LISTS.
 *
 *   entry: generation | lock owner | lock sleepers | front | back | size | type id
 */

/** The entry's generation: odd while a list uses it, bumped at create and at destroy, so that a
 *  handle of a destroyed list is refused. */
export const L_GEN = 0;

/** The list's lock (2 words: owner token, waiters). */
export const L_LOCK = 1;

/** First and last frame (index + 1; 0 when empty), the number of frames, the metadata type id. */
export const L_FRONT = 3;

export const L_BACK = 4;

export const L_SIZE = 5;

export const L_TYPE = 6;
