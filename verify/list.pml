/*
 * Model (d): the linked lists, src/region/lists.ts (the protocol half: the list lock, linkFrame /
 * unlinkFrame through the list journal, journaled, applyListOp with its modification count,
 * repairList) and src/frame/linked-list.ts (the API half: LinkedList.popFront / pushBack, and a
 * fail-fast CursorMut that takes the lock for each call only: cursorFrontMut, begin, moveNext,
 * takeCurrent, insertBefore, and checkFresh without the lock, as `current` does), with
 * reclaimWorker (src/workers/reclaim.ts) when worker MW dies at any step.
 *
 * NF = 4 frames: frames 1 and 2 start in the list (front 1, back 2), frame 3 is held by CW, the
 * cursor's worker, frame 4 by MW, the worker that calls list methods. The list is entry 0 (its id,
 * which S_LIST holds, is 1); frames are named by number, index + 1, as the links name them.
 *
 * CW makes a cursor at the front (cursorFrontMut: the lock, the front and the count, the lock
 * given back), then makes OPS_C calls of it: moveNext, takeCurrent, insertBefore (of a frame it
 * holds) and the lock-free check of `current` / `currentPaddr`. Each locked call is begin (the
 * lock, then the count compared with the one the cursor expects: another value makes it stale
 * for good, and it gives the lock back having done nothing), its reads and writes, and the lock
 * given back. MW makes OPS_M calls of popFront and pushBack (of a frame it holds); with
 * CURSOR_M, its pops go through a cursor of its own instead (cursorFrontMut, then takeCurrent),
 * so two cursors change the list. With DEATH, MW may die at any step, including between its
 * journal entry and the change, and in the middle of the change: the reclaimer then runs
 * repairList (the lock still names MW: the journaled change is applied as a link, the journal
 * cleared, the lock released by CAS).
 *
 * Atomic operations are one step each, plain reads and writes of shared words one step each,
 * but for reads made under the lock (nobody else writes then: the reclaimer writes only while
 * the lock names a dead worker), folded into the step that uses them, and a journal entry, one
 * step: its words are written so that the entry is invalid until its kind, the last one, which
 * is what makes it atomic for its only reader, repairList (after the worker died).
 *
 * Ghosts: own[f] says who owns frame f: LISTED (the list) or HELD(w) (a handle of worker w).
 * A change moves it as the journal does: a link is the list's from the moment its journal entry
 * is valid (repairList would redo it), an unlink is the worker's only once its journal is cleared
 * (until then repairList would put the frame back). Every move asserts where the frame comes
 * from, so a frame taken out twice (a second owner) fails. gstale[w] says that the list was
 * written by someone other than worker w's cursor since that cursor last saw the count: set by
 * every write of the list by anybody else (a list method, the other cursor, the reclaimer's
 * redo), cleared when the cursor is made.
 *
 * Properties:
 *   - one owner per frame (the asserts on own[]: "a second owner");
 *   - a stale cursor changes nothing: the first write of a cursor's change asserts !gstale[me];
 *     and its check under the lock finds the count changed exactly when gstale says so;
 *   - the lock-free check of `current` passes only while the cursor's frame is in the list with
 *     nobody's change begun (the count is bumped before the first link write);
 *   - at the end (everyone done, MW reclaimed if it died): the list is well formed (front, back,
 *     next and prev links, S_LIST and size agree), it holds exactly the frames the ghost says are
 *     LISTED (nothing lost after repair), its lock is free and no journal is left;
 *   - no deadlock (pan's invalid end states): a dead holder's lock is released by repairList.
 *
 * Broken variants (each must fail):
 *   BROKEN_NO_MOD_CHECK  the cursor's calls skip the count check (the cursor before the fix: it
 *                        trusted its position) -> a stale cursor changes the list; with
 *                        OWNERS_ONLY (only the owner ghost is asserted, as the old code knew no
 *                        staleness) -> a frame taken out twice: a second owner (issue #14 item 1)
 *   BROKEN_NO_JOURNAL    changes are made without the list journal -> a worker that dies in
 *                        the middle of one leaves the list broken: repairList has nothing to redo
 *   BROKEN_MOD_LAST      applyListOp bumps the count after the links instead of before -> the
 *                        lock-free check of `current` passes on a frame being taken out
 */
#include "common.pml"

#ifndef NW
#define NW 2
#endif
#ifndef OPS_C
#define OPS_C 4          /* calls of CW's cursor */
#endif
#ifndef OPS_M
#define OPS_M 3          /* list calls of MW */
#endif
#define NF 4
#define CW 1             /* the cursor's worker */
#define MW 2             /* the worker of list methods (with CURSOR_M, a cursor too); may die */
#define RECLAIMER 3

#define LOP_LINK 1       /* region/journal.ts LOP_LINK */
#define LOP_UNLINK 2     /* region/journal.ts LOP_UNLINK */
#define L_FRONT 3        /* region/lists.ts L_FRONT */
#define L_BACK 4         /* region/lists.ts L_BACK */
#define L_SIZE 5         /* region/lists.ts L_SIZE */
#define L_MOD 7          /* region/lists.ts L_MOD */
#define LIST_WORDS 8     /* region/geometry.ts LIST_WORDS */
#define LIST_ID 1        /* the list's id: entry index 0, + 1 */

#define LISTED 0
#define HELD(w) (8 + (w))


int slot[NF * SLOT_HDR];
byte ent[LIST_WORDS];    /* the list's entry (the lock is lockw) */
byte lockw;              /* L_LOCK: the holder's token (gen 1: nobody re-attaches here) */

/* Each worker's list journal (W_LOP): kind, frame, prev, next, new size. */
byte jk[NW + 1];
byte jx[NW + 1];
byte jp[NW + 1];
byte jn[NW + 1];
byte js[NW + 1];

byte own[NF + 1];        /* ghost: who owns frame f (1..NF) */
bit gstale[NW + 1];      /* ghost: the list was written by others since w's cursor saw it */
bit killed[NW + 1];
bit gone[NW + 1];
bit finished[NW + 1];
bit reclaimed;
bit ended;               /* the final check runs: its asserts say "ended && ..." */

#define SL(f, w) W((f) - 1, w)   /* word w of the slot of frame number f */

/* A write of the list by `who`: every other worker's cursor is now behind. */
#define TOUCH(who) gstale[CW] = gstale[CW] || (who) != CW; gstale[MW] = gstale[MW] || (who) != MW

/* ---- lock.ts, through lockList / unlockList --------------------------------------------- */
/* lock: CAS 0 -> token; while held, lockSlow spins and sleeps and tries again: this guard. */
inline LOCK() { atomic { lockw == 0 -> lockw = TOKEN(1, me) } }
inline UNLOCK() { lockw = 0 }             /* unlock: Atomics.store 0 (then wake) */

/* ---- lists.ts ---------------------------------------------------------------------------- */
/* A change's first write: by a cursor's call (c_), the cursor must not be stale. */
#ifdef OWNERS_ONLY
#define STALE_WRITE_CHECK(who, c_) skip
#else
#define STALE_WRITE_CHECK(who, c_) assert(!(c_ && gstale[who]))   /* a stale cursor changes nothing */
#endif

/* applyListOp(kind, x, prev, next, size) by `who` (c_: for a cursor's call): the count first,
 * then each link write. */
inline applyListOp(who, c_, k_, x_, p_, n_, s_) {
#ifndef BROKEN_MOD_LAST
  d_step {                                /* applyListOp: Atomics.store(L_MOD, mod + 1) */
    STALE_WRITE_CHECK(who, c_);
    ent[L_MOD] = ent[L_MOD] + 1; TOUCH(who)
  }
#endif
  if
  :: k_ == LOP_LINK ->
     d_step { SL(x_, S_NEXT) = n_; TOUCH(who) }                 /* applyListOp: i32[xw + S_NEXT] = next */
     d_step { SL(x_, S_PREV) = p_; TOUCH(who) }                 /* applyListOp: i32[xw + S_PREV] = prev */
     if
     :: p_ != 0 -> d_step { SL(p_, S_NEXT) = x_; TOUCH(who) }   /* applyListOp: prev's S_NEXT = x */
     :: else -> d_step { ent[L_FRONT] = x_; TOUCH(who) }        /* applyListOp: L_FRONT = x */
     fi;
     if
     :: n_ != 0 -> d_step { SL(n_, S_PREV) = x_; TOUCH(who) }   /* applyListOp: next's S_PREV = x */
     :: else -> d_step { ent[L_BACK] = x_; TOUCH(who) }         /* applyListOp: L_BACK = x */
     fi;
     d_step { SL(x_, S_LIST) = LIST_ID; TOUCH(who) }            /* applyListOp: i32[xw + S_LIST] = index + 1 */
  :: else ->
     if
     :: p_ != 0 -> d_step { SL(p_, S_NEXT) = n_; TOUCH(who) }   /* applyListOp: prev's S_NEXT = next */
     :: else -> d_step { ent[L_FRONT] = n_; TOUCH(who) }        /* applyListOp: L_FRONT = next */
     fi;
     if
     :: n_ != 0 -> d_step { SL(n_, S_PREV) = p_; TOUCH(who) }   /* applyListOp: next's S_PREV = prev */
     :: else -> d_step { ent[L_BACK] = p_; TOUCH(who) }         /* applyListOp: L_BACK = prev */
     fi;
     d_step { SL(x_, S_NEXT) = 0; TOUCH(who) }                  /* applyListOp: i32[xw + S_NEXT] = 0 */
     d_step { SL(x_, S_PREV) = 0; TOUCH(who) }                  /* applyListOp: i32[xw + S_PREV] = 0 */
     d_step { SL(x_, S_LIST) = 0; TOUCH(who) }                  /* applyListOp: i32[xw + S_LIST] = 0 */
  fi;
#ifdef BROKEN_MOD_LAST
  d_step {                                /* BROKEN: the count bumped after the links */
    STALE_WRITE_CHECK(who, c_);
    ent[L_MOD] = ent[L_MOD] + 1; TOUCH(who)
  }
#endif
  d_step { ent[L_SIZE] = s_; TOUCH(who) }                       /* applyListOp: Atomics.store(L_SIZE, size) */
}

/* journaled(kind, x, prev, next, size): the entry, then its kind makes it valid (one step);
 * the ghost owner moves with it (a link is the list's from here: repairList would redo it). */
inline journal(k_, x_, p_, n_, s_) {
  d_step {
#ifndef BROKEN_NO_JOURNAL
    jx[me] = x_; jp[me] = p_; jn[me] = n_; js[me] = s_; jk[me] = k_;   /* journaled: the entry, then J_KIND */
#endif
    if
    :: k_ == LOP_LINK -> assert(own[x_] == HELD(me)); own[x_] = LISTED
    :: else -> assert(LISTED == own[x_])  /* the frame to take out is the list's: else a second owner */
    fi
  }
}
/* journaled: J_KIND = 0 once the change is whole; an unlinked frame is the worker's from here. */
inline clearJournal(k_, x_) {
  d_step {
#ifndef BROKEN_NO_JOURNAL
    jk[me] = 0;                           /* journaled: i32[j + J_KIND] = 0 */
#endif
    if
    :: k_ == LOP_UNLINK -> assert(own[x_] == LISTED); own[x_] = HELD(me); held = held | (1 << x_)
    :: else -> held = held & ~(1 << x_)
    fi
  }
}
/* unlinkFrame(x) (take): its neighbours and the new size, read under the lock; journaled. */
inline unlinkFrame(c_, x_) {
  d_step { pv = SL(x_, S_PREV); nx = SL(x_, S_NEXT); sz = ent[L_SIZE] - 1 }   /* unlinkFrame: S_PREV, S_NEXT, size - 1 */
  journal(LOP_UNLINK, x_, pv, nx, sz);
  applyListOp(me, c_, LOP_UNLINK, x_, pv, nx, sz);
  clearJournal(LOP_UNLINK, x_)
}
/* linkFrame(x, next) (insert): prev and the new size, read under the lock; journaled. */
inline linkFrame(c_, x_, n_) {
  d_step { pv = (n_ == 0 -> ent[L_BACK] : SL(n_, S_PREV)); sz = ent[L_SIZE] + 1 }   /* linkFrame: prev, size + 1 */
  journal(LOP_LINK, x_, pv, n_, sz);
  applyListOp(me, c_, LOP_LINK, x_, pv, n_, sz);
  clearJournal(LOP_LINK, x_)
}

/* ---- linked-list.ts: CursorMut ------------------------------------------------------------ */
/* cursorFrontMut: enter (the lock), the front and the count, leave. */
inline makeCursor() {
  LOCK();                                 /* cursorFrontMut: enter */
  d_step { cur = ent[L_FRONT]; exp = ent[L_MOD]; gstale[me] = 0; stale = 0 }   /* cursorFrontMut: listFront, listMod */
  UNLOCK()                                /* cursorFrontMut: leave */
}
#ifdef OWNERS_ONLY
#define CHECK_SEEN(e) skip
#define CHECK_AT(e) skip
#else
#define CHECK_SEEN(e) assert(e)
#define CHECK_AT(e) assert(e)
#endif
/* begin: the lock for this call, then the count under it; stale: the lock back, nothing done. */
inline begin() {
  LOCK();                                 /* begin: list.enter() */
#ifndef BROKEN_NO_MOD_CHECK
  d_step {                                /* begin: listMod(...) !== this.expected */
    if
    :: ent[L_MOD] != exp -> CHECK_SEEN(gstale[me]); stale = 1   /* goStale: only after a change by others */
    :: else -> CHECK_SEEN(!gstale[me])    /* every change by others is seen */
    fi
  }
  if :: stale -> UNLOCK() :: else fi      /* begin: list.leave(); goStale() */
#endif
}
/* takeCurrent: begin; null at the ghost; else listedNext, take (unlinkFrame), the count it left. */
inline takeCurrent() {
  begin();
  if
  :: stale -> skip
  :: !stale && cur == 0 -> UNLOCK()       /* takeCurrent: null at the ghost; list.leave() */
  :: !stale && cur != 0 ->
     x = cur;
     d_step { nxt = SL(x, S_NEXT) }       /* takeCurrent: listedNext(r, f) */
     unlinkFrame(1, x);                   /* take: unlinkFrame */
     d_step { exp = ent[L_MOD]; cur = nxt; nxt = 0 }   /* takeCurrent: this.expected = listMod; moveTo(next) */
     UNLOCK()                             /* takeCurrent: list.leave() */
  fi
}
/* insertBefore(frame x): begin; insert (linkFrame before cur); the count it left. */
inline insertBefore(x_) {
  begin();
  if
  :: stale -> skip
  :: else ->
     linkFrame(1, x_, cur);               /* insert: linkFrame(r, index, f, next) */
     exp = ent[L_MOD];                    /* insertBefore: this.expected = listMod */
     UNLOCK()                             /* insertBefore: list.leave() */
  fi
}

proctype CursorWorker() {
  byte me, cur, exp, x, pv, nx, nxt, sz, k, f, held;
  bit stale;
  me = CW;
  held = 1 << 3;                          /* CW holds frame 3 */
  makeCursor();
  k = OPS_C;
  do
  :: k > 0 && !stale ->
     k--;
     if
     :: begin();                          /* moveNext */
        if
        :: stale -> skip
        :: else ->
           d_step {                       /* moveNext: listFront, or listedNext(r, cur) */
             if
             :: cur == 0 -> cur = ent[L_FRONT]
             :: else -> CHECK_AT(own[cur] == LISTED && SL(cur, S_LIST) == LIST_ID); cur = SL(cur, S_NEXT)   /* its frame is the list's */
             fi
           }
           UNLOCK()                       /* moveNext: list.leave() */
        fi
     :: takeCurrent()
     :: held != 0 ->
        if :: (held & (1 << 1)) -> f = 1 :: (held & (1 << 2)) -> f = 2 :: (held & (1 << 3)) -> f = 3 :: (held & (1 << 4)) -> f = 4 fi;
        insertBefore(f);
        f = 0
     :: d_step {                          /* checkFresh: listMod, without the lock (current) */
          if
          :: ent[L_MOD] != exp -> stale = 1
          :: else -> CHECK_AT(cur == 0 || (own[cur] == LISTED && SL(cur, S_LIST) == LIST_ID))   /* the view's frame is the list's */
          fi
        }
     fi
  :: k == 0 || stale -> break
  od;
  finished[CW] = 1
}

proctype MethodWorker() {
  byte me, cur, exp, x, pv, nx, nxt, sz, k, f, held;
  bit stale;
  me = MW;
  held = 1 << 4;                          /* MW holds frame 4 */
  {
    k = OPS_M;
    do
    :: k > 0 ->
       k--;
       if
#ifndef CURSOR_M
       :: LOCK();                         /* popFront: enter */
          d_step { x = ent[L_FRONT] }     /* popFront: listFront */
          if
          :: x == 0 -> UNLOCK()           /* take(0): null; leave */
          :: else -> unlinkFrame(0, x); UNLOCK()   /* take: unlinkFrame; leave */
          fi
#else
       :: makeCursor();                   /* a cursor of MW: cursorFrontMut, then takeCurrent */
          takeCurrent()
#endif
       :: held != 0 ->
          if :: (held & (1 << 1)) -> f = 1 :: (held & (1 << 2)) -> f = 2 :: (held & (1 << 3)) -> f = 3 :: (held & (1 << 4)) -> f = 4 fi;
          LOCK();                         /* pushBack: enter */
          linkFrame(0, f, 0);             /* insert: linkFrame(r, index, f, 0) */
          UNLOCK();                       /* pushBack: leave */
          f = 0
       fi
    :: k == 0 -> break
    od;
    finished[MW] = 1
  } unless {
    killed[MW];
    gone[MW] = 1
  }
}

/* reclaim(sys, [MW]) of src/workers/reclaim.ts, by whoever saw MW exit: its list step. */
proctype Reclaimer() {
  byte me, x, pv, nx, sz;
  me = RECLAIMER;
  (gone[MW] || finished[MW]);
  if
  :: gone[MW] && lockw == TOKEN(1, MW) -> /* repairList: lockOwner(i32, at) === deadToken */
     if
     :: jk[MW] != 0 ->                    /* repairList: a change journaled for this list */
        d_step { x = jx[MW]; pv = jp[MW]; nx = jn[MW]; sz = (jk[MW] == LOP_LINK -> js[MW] : js[MW] + 1) }   /* repairList: the journal */
        applyListOp(RECLAIMER, 0, LOP_LINK, x, pv, nx, sz);   /* applyListOp(LOP_LINK, ...): a link redone, an unlink undone */
        jk[MW] = 0                        /* repairList: i32[j + J_KIND] = 0 */
     :: else
     fi;
     atomic { lockw == TOKEN(1, MW) -> lockw = 0 }   /* forceRelease: Atomics.compareExchange(at, deadToken, 0) */
  :: else
  fi;
  reclaimed = 1
}

#ifdef DEATH
active proctype Killer() {
  if
  :: killed[MW] = 1
  :: skip
  fi
}
#endif

init {
  byte f, p, n;
  byte seen[NF + 1];
  atomic {
    /* frames 1 and 2 in the list, 3 held by CW, 4 by MW */
    f = 1;
    do
    :: f <= NF -> SL(f, S_REF) = RC_UNIQUE; f++
    :: f > NF -> break
    od;
    ent[L_FRONT] = 1; ent[L_BACK] = 2; ent[L_SIZE] = 2;
    SL(1, S_NEXT) = 2; SL(2, S_PREV) = 1; SL(1, S_LIST) = LIST_ID; SL(2, S_LIST) = LIST_ID;
    own[1] = LISTED; own[2] = LISTED; own[3] = HELD(CW); own[4] = HELD(MW);
    run CursorWorker();
    run MethodWorker();
    run Reclaimer();
    f = 0
  }
  finished[CW] && (finished[MW] || gone[MW]) && reclaimed;
  /* The list is well formed and holds exactly the frames the ghost says are the list's. */
  d_step {
    ended = 1;
    f = ent[L_FRONT]; p = 0; n = 0;
    do
    :: f != 0 ->
       assert(ended && n < NF);           /* no cycle */
       assert(ended && SL(f, S_LIST) == LIST_ID && SL(f, S_PREV) == p && own[f] == LISTED);
       seen[f] = 1; n++; p = f; f = SL(f, S_NEXT)
    :: else -> break
    od;
    assert(ended && ent[L_BACK] == p && ent[L_SIZE] == n);
    f = 1;
    do
    :: f <= NF ->
       assert(ended && seen[f] == (own[f] == LISTED));   /* nothing lost, nothing extra */
       assert(ended && (seen[f] || SL(f, S_LIST) == 0));
       f++
    :: else -> break
    od;
    assert(ended && lockw == 0 && jk[CW] == 0 && jk[MW] == 0)
  }
}
