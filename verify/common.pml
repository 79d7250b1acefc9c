/*
 * Constants shared by the pageframe models, mirrored from src/region/.
 * test/verify/constants.test.ts parses every `#define NAME value` marked with its file in `region/`
 * below and checks it against the code: change them together.
 */

/* Reference-count states of a slot's S_REF word, as the Int32 values the code stores. */
#define RC_UNUSED (-1)          /* region/meta.ts RC_UNUSED */
#define RC_UNIQUE (-2)          /* region/meta.ts RC_UNIQUE */
#define RC_BUSY 0               /* region/meta.ts: busy is 0 (meta.ts claim / dropLast) */

/* Words of a MetaSlot (the model keeps the header words S_REF..S_AUX; the 40-byte metadata
 * storage is folded into S_TYPE, which writeMeta writes first and clearSlot clears). */
#define S_REF 0                 /* region/meta.ts S_REF */
#define S_TYPE 1                /* region/meta.ts S_TYPE */
#define S_LIST 2                /* region/meta.ts S_LIST */
#define S_NEXT 3                /* region/meta.ts S_NEXT */
#define S_PREV 4                /* region/meta.ts S_PREV */
#define S_OWNER S_PREV          /* region/meta.ts S_OWNER = S_PREV */
#define S_AUX 5                 /* region/meta.ts S_AUX */
#define SLOT_HDR 6              /* = region/meta.ts S_STORAGE: header words kept per slot */

/* Flags in S_AUX (buddy allocator). */
#define AUX_FREE 1073741824     /* region/meta.ts AUX_FREE (0x4000_0000) */

/* Operation-journal kinds (W_OP_COUNT >> OP_KIND_SHIFT). */
#define OP_OWNED 1              /* region/journal.ts OP_OWNED */
#define OP_DROP 2               /* region/journal.ts OP_DROP */
#define OP_RAW 3                /* region/journal.ts OP_RAW */

/* Lock tokens: gen << TOKEN_ID_BITS | id (region/workers.ts W_GEN). */
#define TOKEN_ID_BITS 7         /* region/workers.ts TOKEN_ID_BITS */
#define TOKEN(gen, id) (((gen) << TOKEN_ID_BITS) | (id))

/* Worker-table states (W_STATE). */
#define WORKER_FREE 0           /* region/workers.ts WORKER_FREE */
#define WORKER_ATTACHED 1       /* region/workers.ts WORKER_ATTACHED */

/* Word w of the slot of frame f. */
#define W(f, w) slot[(f) * SLOT_HDR + (w)]
