/*
 * Model (a): the MetaSlot state machine of src/region/meta.ts (every count transition is a
 * function there), as src/frame/unique.ts, src/frame/teardown.ts and the frame path of
 * src/frame/allocator.ts (with src/region/workers.ts takeCached) use it, with NW workers sharing
 * NF frames.
 *
 *   UNUSED --claim (CAS)--> 0 --writeMeta, publish--> 1 | UNIQUE
 *   n --fromInUse (CAS) / clone (add)--> n+1;  n --drop (decRef: load + CAS)--> n-1
 *   1 --last drop--> 0 --dropLast: onDrop, clearSlot--> UNUSED --> allocator
 *   1 --tryFrom (CAS)--> UNIQUE --intoFrame (store)--> 1;  UNIQUE --drop (store 0)--> 0 --> ...
 *
 * Every atomic operation of the code (Atomics.load/store/add/sub/compareExchange) is one
 * Promela step; every plain read or write of shared memory is a step of its own. Ghost
 * variables (refs, uniq, pub, lost*) are updated inside the step they describe and are never
 * read by the protocol. The allocator is abstracted to atomic steps (model (b), cache.pml,
 * checks the real one): a LIFO cache per worker, as CachedAllocator, in front of a shared pool.
 *
 * With -DDEATH the last worker may be terminated at any step, and a Reclaimer process runs
 * reclaimWorker (src/workers/reclaim.ts, reclaimFramesLocked and reclaimJournaled: the operation
 * journal and the cache).
 *
 * Broken variants (negative tests, each must produce a counterexample):
 *   BROKEN_PUBLISH_FIRST    publish the count before writeMeta        -> metadata assertion
 *   BROKEN_NONATOMIC_DEC    decRef's CAS as a plain store             -> count conservation
 *   BROKEN_FROMINUSE_ADD    fromInUse as check + Atomics.add, no CAS  -> count / use after free
 *   BROKEN_TRYFROM_LOAD     tryFrom as load + store, no CAS           -> count conservation
 *   BROKEN_NO_OWNER         drops do not record S_OWNER (with DEATH)  -> reclaim misjudges a
 *                           teardown: frame lost or freed twice
 *   BROKEN_DECREF_OWNER_ANY (with DEATH) decRef as it was before the fix of finding F1: every
 *                           dropper writes S_OWNER, then Atomics.sub -> a frame is lost
 *
 * decRef is the code's CAS loop (fixed for F1): Atomics.load; a count below 1 is NotHeld; only a
 * load of 1 (the last reference) writes S_OWNER; then Atomics.compareExchange(old, old - 1),
 * again on failure. The WebAssembly fast path (src/region/fast-path.ts: take = popOne + claim +
 * type, publish, drop = journal + the decRef loop + teardown + push; claimRun, publishRun and
 * dropRun for segments) performs the same steps in the same order as the functions modelled
 * here, and test/region/fast-path.test.ts checks that both write the same words.
 *
 * reclaim holds the allocator lock (H_BUDDY_LOCK) from its first look at a journaled frame to the
 * freeing and the record (fixed for F2); here the lock only excludes a take from the shared pool,
 * the one abstract allocator step that runs under it in the code.
 */
#include "common.pml"

#ifndef NW
#define NW 2
#endif
#ifndef NF
#define NF 2
#endif
#ifndef OPS
#define OPS 2            /* operations of worker 1 (then it drops what it holds) */
#endif
#ifndef OPS_OTHERS
#define OPS_OTHERS OPS   /* operations of the other workers */
#endif
#define H 2              /* handles a worker may hold at once */
#define V NW             /* the worker that may die */

short slot[NF * SLOT_HDR];

/* Allocator (abstract): per-worker LIFO caches (cache.ts push/pop) and the buddy pool. */
byte cache[(NW + 1) * NF];
byte ccount[NW + 1];
bit inBuddy[NF];
bit blk;             /* H_BUDDY_LOCK, held by reclaim (a pool take holds it inside its step) */

/* Per-worker operation journal (journal.ts recordOp/clearOp): W_OP_START (frame + 1), and the
 * kind of W_OP_COUNT (the count is always 1 here). */
byte opStart[NW + 1];
byte opKind[NW + 1];

/* Ghosts. refs: shared references held (handles, and the one a drop is giving up until its
 * decrement); uniq: a UniqueFrame holds the slot; pub: the metadata published with the count;
 * freeG: the frame is free (in a cache or the pool); lostR/lostU: references of handles the
 * dead worker held when it died (they stay in use by design: nobody knows them). */
byte refs[NF];
bit uniq[NF];
byte pub[NF];
bit freeG[NF];
byte lostR[NF];
bit lostU[NF];

bit killed[NW + 1];
bit gone[NW + 1];
bit finished[NW + 1];
bit reclaimed;
byte done;

/* Count conservation: checked (CHECK) at the end of every step that changes a count or a ghost,
 * which is where it can become false, so it holds in every reachable state. */
#define FRAME_OK(f) \
  ((W(f, S_REF) >= 1 -> (W(f, S_REF) == refs[f] && !uniq[f]) : 1) && \
   (W(f, S_REF) == RC_UNIQUE -> (uniq[f] && refs[f] == 0) : 1) && \
   (W(f, S_REF) == RC_UNUSED || W(f, S_REF) == RC_BUSY -> (refs[f] == 0 && !uniq[f]) : 1) && \
   W(f, S_REF) >= RC_UNIQUE && \
   (freeG[f] -> W(f, S_REF) == RC_UNUSED : 1))
#define CHECK(f) assert(FRAME_OK(f))

/* ---- journal.ts ------------------------------------------------------------------------ */
/* The entry's words are written so that it is invalid until the last write (recordOp: the count
 * and kind, then the start; clearOp: the start first), and its only reader, reclaim, reads it
 * after the worker died: so each is one step. */
inline recordOp(kind, fr) {
  d_step { opKind[me] = kind; opStart[me] = fr + 1 }   /* recordOp: W_OP_COUNT, then W_OP_START */
}
inline clearOp() {
  d_step { opStart[me] = 0; opKind[me] = 0 }           /* clearOp: W_OP_START, then W_OP_COUNT */
}

/* ---- allocator (abstract; cache.ts take/give, buddy.ts) ---------------------------------- */
/* cache.ts take -> pop (or refill / buddy): journaled and owned before it leaves the stack. A
 * take from the pool (refill, fromBuddy) waits while reclaim holds the allocator lock. */
inline take(fr, ok) {
  d_step {
    (ccount[me] > 0 || !blk);
    if
    :: ccount[me] > 0 ->
       ccount[me]--; fr = cache[me * NF + ccount[me]]; cache[me * NF + ccount[me]] = 0; ok = 1
    :: else ->
       fr = 0;
       do
       :: fr < NF && inBuddy[fr] -> inBuddy[fr] = 0; ok = 1; break
       :: fr < NF && !inBuddy[fr] -> fr++
       :: fr == NF -> fr = 0; ok = 0; break
       od
    fi;
    if
    :: ok ->
       assert(freeG[fr]);                  /* never handed out twice */
       assert(W(fr, S_REF) == RC_UNUSED);   /* free implies UNUSED */
       freeG[fr] = 0;
       opKind[me] = OP_OWNED; opStart[me] = fr + 1;   /* pop: recordOp(OP_OWNED) */
       W(fr, S_OWNER) = me;                /* pop: own() */
       CHECK(fr)
    :: else
    fi
  }
}
/* sys._dealloc -> cache.ts give -> push (LIFO, this worker's cache). */
inline give(fr) {
  d_step {
    assert(!freeG[fr]);                    /* no double free */
    assert(W(fr, S_REF) == RC_UNUSED);     /* only unused frames are freed */
    freeG[fr] = 1;
    cache[me * NF + ccount[me]] = fr; ccount[me]++;
    CHECK(fr)
  }
}

/* ---- meta.ts ----------------------------------------------------------------------------- */
/* dropLast (+ clearSlot): the caller made the slot busy. */
inline dropLast(fr) {
#ifndef BROKEN_NO_OWNER
  W(fr, S_OWNER) = me;                     /* dropLast: i32[w + S_OWNER] = workerId (tearDownPlain too) */
#endif
  d_step {                                 /* dropLast: typeById(i32[w + S_TYPE]); onDrop(meta) */
    t = W(fr, S_TYPE);
    assert(W(fr, S_REF) == RC_BUSY);        /* nobody else touches a busy slot */
    assert(t != 0 && t == pub[fr]);         /* onDrop sees the published metadata */
    t = 0
  }
  W(fr, S_TYPE) = 0;                       /* clearSlot: storage, S_TYPE, S_LIST, S_AUX */
  d_step { W(fr, S_REF) = RC_UNUSED; pub[fr] = 0; CHECK(fr) }   /* clearSlot: i32[w] = RC_UNUSED (a plain store) */
  give(fr)                                 /* dropLast: sys._dealloc(paddr, 1) */
}

/* decRef: one shared reference of handle i goes; last = 1 if it was the last. */
inline decRef(fr) {
#ifdef BROKEN_DECREF_OWNER_ANY
  W(fr, S_OWNER) = me;                     /* BROKEN (decRef before the F1 fix): i32[w + S_OWNER] = workerId */
  d_step { old = W(fr, S_REF); W(fr, S_REF) = old - 1; refs[fr]--; hf[i] = 0; hu[i] = 0; CHECK(fr) }  /* BROKEN (decRef before the F1 fix): Atomics.sub */
#else
  do
  :: old = W(fr, S_REF);                   /* decRef: Atomics.load */
     if
     :: old < 1 -> break                   /* decRef: old < 1: NotHeld (nothing changed) */
#ifndef BROKEN_NO_OWNER
     :: old == 1 -> W(fr, S_OWNER) = me    /* decRef: old === 1: i32[w + S_OWNER] = workerId */
#endif
     :: else
     fi;
#ifdef BROKEN_NONATOMIC_DEC
     d_step { W(fr, S_REF) = old - 1; refs[fr]--; hf[i] = 0; hu[i] = 0; CHECK(fr) }   /* BROKEN: a plain store, no CAS */
     break
#else
     d_step {                              /* decRef: Atomics.compareExchange(old, old - 1) */
       if
       :: W(fr, S_REF) == old -> W(fr, S_REF) = old - 1; refs[fr]--; hf[i] = 0; hu[i] = 0; ok = 1; CHECK(fr)
       :: else -> ok = 0
       fi
     }
     if :: ok -> ok = 0; break :: else fi  /* decRef: again if the CAS failed */
#endif
  od;
#endif
  assert(old >= 1);                        /* a held frame has a count: no use after free */
  last = (old == 1);
  old = 0
}

/* dropRef: a Frame handle's drop: writeOp(OP_DROP), decRef, the teardown if it was the last
 * reference (tearDownPlain or dropLast: the same steps here), endOp. */
inline dropRef(fr) {
  recordOp(OP_DROP, fr);                   /* dropRef: writeOp(OP_DROP) */
  decRef(fr);
  if
  :: last -> last = 0; dropLast(fr)
  :: else
  fi;
  clearOp()
}

/* dropUnique (UniqueFrame.drop). */
inline dropUnique(fr) {
  recordOp(OP_DROP, fr);
  W(fr, S_OWNER) = me;                     /* dropUnique: S_OWNER before it turns busy */
  d_step { assert(W(fr, S_REF) == RC_UNIQUE); W(fr, S_REF) = RC_BUSY; uniq[fr] = 0; hf[i] = 0; hu[i] = 0; CHECK(fr) }  /* Atomics.store 0 */
  dropLast(fr);
  clearOp()
}

/* Reading the metadata through a held handle (Frame.meta / UniqueFrame.meta). */
inline readMeta(fr) {
  d_step {
    t = W(fr, S_TYPE);
    assert(hu[i] == 0 || W(fr, S_REF) == RC_UNIQUE);
    assert(hu[i] == 1 || W(fr, S_REF) >= 1);
    assert(t != 0 && t == pub[fr]);        /* metadata seen by every holder is the published one */
    t = 0
  }
}

/* options.ts allocOne (claim, writeMeta, publish), into free handle j. */
inline allocOne(unique) {
  take(f, ok);
  if
  :: ok ->
     ok = 0;
     d_step {                              /* claim: Atomics.compareExchange(UNUSED, 0) */
       old = W(f, S_REF);
       if :: old == RC_UNUSED -> W(f, S_REF) = RC_BUSY :: else fi;
       CHECK(f)
     }
     assert(old == RC_UNUSED);             /* the allocator's frame was unused: not handed out twice */
     old = 0;
     W(f, S_OWNER) = me;                   /* claim: i32[w + S_OWNER] = workerId */
#ifdef BROKEN_PUBLISH_FIRST
     d_step { W(f, S_REF) = (unique -> RC_UNIQUE : 1); if :: unique -> uniq[f] = 1 :: else -> refs[f] = 1 fi; pub[f] = me; hf[j] = f + 1; hu[j] = unique; CHECK(f) }
     W(f, S_TYPE) = me;
#else
     W(f, S_TYPE) = me;                    /* writeMeta: S_TYPE and the storage */
     d_step {                              /* publish: Atomics.store(1 | UNIQUE) */
       W(f, S_REF) = (unique -> RC_UNIQUE : 1);
       if :: unique -> uniq[f] = 1 :: else -> refs[f] = 1 fi;
       pub[f] = me; hf[j] = f + 1; hu[j] = unique;
       CHECK(f)
     }
#endif
     clearOp()                             /* allocOne: finally clearOp */
  :: else -> clearOp()                     /* NoMemory */
  fi;
  f = 0
}

/* meta.ts getFromInUse, into free handle j. */
inline fromInUse() {
  select(f : 0 .. NF - 1);
  do
  :: old = W(f, S_REF);                    /* getFromInUse: Atomics.load */
     if
     :: old == RC_UNUSED || old == RC_UNIQUE || old == RC_BUSY -> break   /* Unused / Unique / Busy */
     :: old >= 1 ->
#ifdef BROKEN_FROMINUSE_ADD
        d_step { W(f, S_REF) = W(f, S_REF) + 1; refs[f]++; hf[j] = f + 1; hu[j] = 0; ok = 1; CHECK(f) }
#else
        d_step {                           /* getFromInUse: Atomics.compareExchange(rc, rc + 1) */
          if
          :: W(f, S_REF) == old -> W(f, S_REF) = old + 1; refs[f]++; hf[j] = f + 1; hu[j] = 0; ok = 1; CHECK(f)
          :: else -> ok = 0
          fi
        }
#endif
        if
        :: ok -> ok = 0;
           d_step {                        /* Frame.fromInUse: typeById(i32[w + S_TYPE]) */
             t = W(f, S_TYPE); assert(t != 0 && t == pub[f]); t = 0
           }
           break
        :: else
        fi
     :: else -> assert(false)              /* no other count exists */
     fi
  od;
  old = 0; f = 0
}

/* Frame.clone -> incRef: Atomics.add, into free handle j. */
inline cloneRef(fr) {
  d_step { old = W(fr, S_REF); W(fr, S_REF) = old + 1; refs[fr]++; hf[j] = fr + 1; hu[j] = 0; CHECK(fr) }
  assert(old >= 1);                        /* incRef on a held frame: old > 0 */
  old = 0
}

/* UniqueFrame.tryFrom: CAS 1 -> UNIQUE. */
inline tryFrom(fr) {
#ifdef BROKEN_TRYFROM_LOAD
  old = W(fr, S_REF);
  if
  :: old == 1 -> d_step { W(fr, S_REF) = RC_UNIQUE; refs[fr]--; uniq[fr] = 1; hu[i] = 1; CHECK(fr) }
  :: else
  fi;
  old = 0
#else
  d_step {
    if
    :: W(fr, S_REF) == 1 -> W(fr, S_REF) = RC_UNIQUE; refs[fr] = 0; uniq[fr] = 1; hu[i] = 1; CHECK(fr)
    :: else
    fi
  }
#endif
}

/* UniqueFrame.intoFrame: publish(false), a store of 1. */
inline intoFrame(fr) {
  d_step { W(fr, S_REF) = 1; uniq[fr] = 0; refs[fr] = 1; hu[i] = 0; CHECK(fr) }
}

proctype Worker(byte me) {
  byte hf[H];      /* handles: frame index + 1 (0: none) */
  bit hu[H];       /* the handle is a UniqueFrame */
  byte ops = (me == 1 -> OPS : OPS_OTHERS);
  byte i, j, f, t;
  short old;
  bit ok, last;
  {
    do
    :: ops > 0 && (hf[0] == 0 || hf[1] == 0) ->
       ops--;
       if :: hf[0] == 0 -> j = 0 :: else -> j = 1 fi;
       if
       :: allocOne(0)
       :: allocOne(1)
       :: fromInUse()
       fi;
       j = 0
    :: ops > 0 && (hf[0] != 0 || hf[1] != 0) ->
       ops--;
       if :: hf[0] != 0 -> i = 0 :: hf[1] != 0 -> i = 1 fi;
       f = hf[i] - 1;
       if
       :: hu[i] == 0 ->
          if
          :: hf[1 - i] == 0 -> j = 1 - i; cloneRef(f); j = 0
          :: dropRef(f)
          :: tryFrom(f)
          :: readMeta(f)
          fi
       :: hu[i] == 1 ->
          if
          :: intoFrame(f)
          :: dropUnique(f)
          :: readMeta(f)
          fi
       fi;
       i = 0; f = 0
    :: ops == 0 -> break
    od;
    /* The handles still held are dropped. */
    i = 0;
    do
    :: i < H && hf[i] != 0 ->
       f = hf[i] - 1;
       if :: hu[i] -> dropUnique(f) :: else -> dropRef(f) fi;
       f = 0; i++
    :: i < H && hf[i] == 0 -> i++
    :: i == H -> break
    od;
    atomic { finished[me] = 1; done++ }
  } unless {
    killed[me];
    d_step {                               /* the worker is gone: its handles are lost */
      i = 0;
      do
      :: i < H && hf[i] != 0 ->
         if :: hu[i] -> lostU[hf[i] - 1] = 1 :: else -> lostR[hf[i] - 1]++ fi; i++
      :: i < H && hf[i] == 0 -> i++
      :: i == H -> break
      od;
      gone[me] = 1; done++
    }
  }
}

#ifdef DEATH
/* Whoever sees the worker exit calls sys.reclaimWorker(V) (reclaim.ts reclaim, reclaimFramesLocked). */
proctype Reclaimer() {
  byte s, k, f, n, me;
  short rc;
  bit mine, dealloc, cached;
  me = NW + 1;
  (gone[V] || finished[V]);
  if
  :: gone[V] ->
     atomic { !blk -> blk = 1 }            /* reclaim: lockWithin(H_BUDDY_LOCK) */
     d_step { s = opStart[V]; k = opKind[V] }   /* journalOf(rec): the dead record is stable */
     if
     :: s != 0 ->
        f = s - 1;
        rc = W(f, S_REF);                  /* reclaimJournaled: Atomics.load(i32, w) (countOf) */
        mine = (W(f, S_OWNER) == V);       /* reclaimJournaled: ownerOf(w) === id */
        if
        :: rc == RC_BUSY && mine ->
           W(f, S_TYPE) = 0;               /* clearAbandoned: storage, type, list, aux, next */
           d_step { W(f, S_REF) = RC_UNUSED; pub[f] = 0; CHECK(f) }   /* clearAbandoned: Atomics.store UNUSED */
           dealloc = (k != OP_RAW)
        :: rc == RC_UNUSED && mine && k != OP_RAW ->
           d_step {                        /* reclaimJournaled: (S_AUX & AUX_FREE) === 0 && !cached.has(f) */
             cached = 0; n = 0;
             do
             :: n < ccount[V] -> if :: cache[V * NF + n] == f -> cached = 1 :: else fi; n++
             :: else -> break
             od;
             dealloc = (!inBuddy[f] && !cached); n = 0; cached = 0
           }
        :: else
        fi
     :: else
     fi;
     d_step {                              /* reclaimFramesLocked: buddy.freeRunsLocked(cached runs + toFree) */
       do
       :: ccount[V] > 0 -> ccount[V]--; inBuddy[cache[V * NF + ccount[V]]] = 1; cache[V * NF + ccount[V]] = 0
       :: else -> break
       od;
       if
       :: dealloc ->
          assert(!freeG[f]);               /* no double free */
          assert(W(f, S_REF) == RC_UNUSED);
          freeG[f] = 1; inBuddy[f] = 1; CHECK(f)
       :: else
       fi
     }
     d_step { opStart[V] = 0; opKind[V] = 0; s = 0; k = 0; f = 0; rc = 0; mine = 0; dealloc = 0 }   /* reclaimFramesLocked: the record emptied */
     blk = 0                               /* reclaim: unlock(H_BUDDY_LOCK) */
  :: else
  fi;
  reclaimed = 1
}

active proctype Killer() {
  if
  :: killed[V] = 1
  :: skip
  fi
}
#endif

init {
  byte f, w;
  atomic {
    f = 0;
    do
    :: f < NF -> W(f, S_REF) = RC_UNUSED; inBuddy[f] = 1; freeG[f] = 1; f++
    :: f == NF -> break
    od;
    w = 1;
    do
    :: w <= NW -> run Worker(w); w++
    :: w > NW -> break
    od;
#ifdef DEATH
    run Reclaimer();
#endif
    f = 0; w = 0
  }
  /* At the end (and after reclaimWorker): no free frame is lost. Every frame is free, or held
   * by the references the dead worker's handles took with them. */
  done == NW;
#ifdef DEATH
  reclaimed;
#endif
  d_step {
    f = 0;
    do
    :: f < NF ->
       assert((freeG[f] && W(f, S_REF) == RC_UNUSED) ||
              (lostR[f] > 0 && W(f, S_REF) == lostR[f]) ||
              (lostU[f] && W(f, S_REF) == RC_UNIQUE));
       f++
    :: f == NF -> break
    od
  }
}
