/* stack.c - goroutine stacks: one big lazy reservation, guard pages, caches.
 *
 * Design: default-size stacks are fixed-size slots carved from chunks of
 * CHUNK_SLOTS slots, each chunk one MAP_NORESERVE mapping (one VMA), so a
 * stack costs only the pages it touches.  The lowest page of every slot is
 * a guard installed with MADV_GUARD_INSTALL (Linux >= 6.13), which marks
 * page-table entries and splits no VMA: a million guarded stacks use a
 * few dozen map lines.  Where the kernel refuses it (EINVAL), guards fall
 * back to mprotect(PROT_NONE), one VMA split each, and running out of
 * vm.max_map_count is reported clearly.  MADV_NOHUGEPAGE keeps a touched
 * stack at 4 KiB instead of a 2 MiB huge page.
 *
 * Why 64 KiB slots by default: a parked goroutine costs its touched stack
 * page (4096 B) + its G record (~200 B) + its share of page tables.  One
 * 4 KiB page-table page maps 2 MiB, i.e. 32 slots of 64 KiB, so the share
 * is 128 B; 256 KiB slots would cost 512 B each and push a parked
 * goroutine past 4.5 KiB.  64 KiB leaves 60 KiB of usable stack, plenty
 * for ordinary C; GORO_STACK_SIZE, goro_set_default_stack_size and
 * goro_go_opts give more where needed (non-default sizes are mapped one
 * by one, each with its own guard).
 *
 * Invariants: a slot is in exactly one place: in use by a G, in a P's
 * cache, on the global warm list (pages possibly resident), on the pending
 * list (above the high-water mark, pages still resident, to be given back
 * by the monitor), being released by the monitor, or on the global cold
 * list (MADV_DONTNEED done).  Slots are never unmapped before
 * goro__stack_fini.
 *
 * Giving memory back is deferred to the monitor (goro__stack_trim): an
 * MADV_DONTNEED costs a system call and a TLB shootdown of every CPU
 * running a thread of this process, so doing it in the exiting
 * goroutine's path made a burst of exits (100,000 sleepers waking at once)
 * slow for everyone.  The monitor sorts the pending slots and releases
 * contiguous runs with one call each; pending slots are reused before cold
 * ones meanwhile.
 *
 * Locking: `glock` protects the chunk table, the carve cursor, the global
 * warm/cold lists and the custom-stack list.  P caches are owned by their
 * P and need no lock.
 *
 * Rejected: one mmap per stack (2 VMAs each with a guard: ~32k stacks
 * under the default map count); copying/segmented stacks (C pointers into
 * stacks cannot be relocated; split stacks cost a 1 MiB reserve per
 * non-split call with gold).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef GORO_VALGRIND
#include <valgrind/valgrind.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define CHUNK_SLOTS 16384
#define MAX_CHUNKS 1024
#define WARM_MAX 1024          /* warm slots kept on the global list */
#define CACHE_MAX 32
_Static_assert(CACHE_MAX == sizeof ((goro__stack_cache_t *)0)->lo / sizeof(char *), "the inline put in internal.h fills the cache up to its array size");
#define CACHE_BATCH 16

size_t goro__stack_default = GORO_STACK_DEFAULT;

typedef struct custom_stack {
  char *lo;
  size_t size;
  struct custom_stack *next;
} custom_stack_t;

static struct {
  goro__lock_t glock;            /* protects the fields below unless they say otherwise */
  size_t slot;                   /* slot size of the chunks (fixed at init) */
  char *chunk[MAX_CHUNKS];
  int nchunks;
  size_t carved;                 /* slots handed out from the last chunk */
  char **warm;                   /* global warm list */
  size_t nwarm, capwarm;
  char **cold;
  size_t ncold, capcold;
  char **pending;                /* above the high-water mark, still resident */
  size_t npending, cappending;
  _Atomic int have_pending;      /* hint for the monitor, read without glock */
  custom_stack_t *custom;
  int guard_mode;                /* 0 unknown, 1 madvise, 2 mprotect */
  _Atomic int64_t custom_bytes;
} S;

int goro__stack_guard_mode(void) { return S.guard_mode; }

int goro__stack_init(void) {
  memset(&S, 0, sizeof S);
  S.slot = goro__stack_default;
  return 0;
}

void goro__stack_fini(void) {
  goro__lock(&S.glock);
  for (int i = 0; i < S.nchunks; i++) munmap(S.chunk[i], CHUNK_SLOTS * S.slot);
  for (custom_stack_t *c = S.custom, *n; c; c = n) {
    n = c->next;
    munmap(c->lo, c->size);
    free(c);
  }
  free(S.warm);
  free(S.cold);
  free(S.pending);
  goro__unlock(&S.glock);
  memset(&S, 0, sizeof S);
}

/* Install the guard page at lo.  Called with glock held. */
static int install_guard(char *lo) {
  if (S.guard_mode != 2) {
    if (madvise(lo, GORO_PAGE, MADV_GUARD_INSTALL) == 0) {
      S.guard_mode = 1;
      return 0;
    }
    if (errno != EINVAL) return -errno;
    S.guard_mode = 2; /* kernel before 6.13: fall back for good */
  }
  if (mprotect(lo, GORO_PAGE, PROT_NONE) == 0) return 0;
  if (errno == ENOMEM) {
    fprintf(stderr,
            "goro: cannot install a stack guard page: the process map count limit "
            "(vm.max_map_count) is exhausted; this kernel lacks MADV_GUARD_INSTALL "
            "(Linux >= 6.13), so each guarded stack costs two mappings. Raise "
            "vm.max_map_count or run fewer goroutines at once.\n");
  }
  return -errno;
}

static bool push(char ***arr, size_t *n, size_t *cap, char *v) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    char **na = realloc(*arr, nc * sizeof *na);
    if (!na) return false;
    *arr = na;
    *cap = nc;
  }
  (*arr)[(*n)++] = v;
  return true;
}

/* Carve a fresh slot.  glock held. */
static char *carve(int *err) {
  if (S.nchunks == 0 || S.carved == CHUNK_SLOTS) {
    if (S.nchunks == MAX_CHUNKS) {
      *err = GORO_ENOMEM;
      return NULL;
    }
    size_t len = CHUNK_SLOTS * S.slot;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
      *err = -errno;
      return NULL;
    }
    madvise(base, len, MADV_NOHUGEPAGE);
    S.chunk[S.nchunks++] = base;
    S.carved = 0;
  }
  char *lo = S.chunk[S.nchunks - 1] + S.carved * S.slot;
  int r = install_guard(lo);
  if (r != 0) {
    *err = r;
    return NULL;
  }
  S.carved++;
#ifdef GORO_VALGRIND
  VALGRIND_STACK_REGISTER(lo + GORO_PAGE, lo + S.slot);
#endif
  return lo;
}

static char *get_custom(size_t size, int *err) {
  char *lo = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                  -1, 0);
  if (lo == MAP_FAILED) {
    *err = -errno;
    return NULL;
  }
  madvise(lo, size, MADV_NOHUGEPAGE);
  custom_stack_t *c = malloc(sizeof *c);
  if (!c) {
    munmap(lo, size);
    *err = GORO_ENOMEM;
    return NULL;
  }
  goro__lock(&S.glock);
  int r = install_guard(lo);
  if (r != 0) {
    goro__unlock(&S.glock);
    munmap(lo, size);
    free(c);
    *err = r;
    return NULL;
  }
  c->lo = lo;
  c->size = size;
  c->next = S.custom;
  S.custom = c;
  goro__unlock(&S.glock);
  atomic_fetch_add(&S.custom_bytes, (int64_t)size);
#ifdef GORO_VALGRIND
  VALGRIND_STACK_REGISTER(lo + GORO_PAGE, lo + size);
#endif
  return lo;
}

static void put_custom(char *lo, size_t size) {
  goro__lock(&S.glock);
  for (custom_stack_t **pc = &S.custom; *pc; pc = &(*pc)->next) {
    if ((*pc)->lo == lo) {
      custom_stack_t *c = *pc;
      *pc = c->next;
      free(c);
      break;
    }
  }
  goro__unlock(&S.glock);
  atomic_fetch_sub(&S.custom_bytes, (int64_t)size);
  munmap(lo, size);
}

char *goro__stack_get_slow(goro__stack_cache_t *cache, size_t size, int *err) {
  if (size != 0 && size != S.slot) return get_custom(size, err);
  if (cache && cache->n > 0) return cache->lo[--cache->n];
  goro__lock(&S.glock);
  /* Refill the cache in one trip: warm slots first, then cold, then new. */
  char *ret = NULL;
  int want = cache ? CACHE_BATCH : 1;
  for (int i = 0; i < want; i++) {
    char *lo;
    if (S.nwarm > 0)
      lo = S.warm[--S.nwarm];
    else if (S.npending > 0)
      lo = S.pending[--S.npending];
    else if (S.ncold > 0)
      lo = S.cold[--S.ncold];
    else if (i == 0)
      lo = carve(err);
    else
      break; /* do not carve ahead: fresh pages are touched lazily anyway */
    if (!lo) break;
    if (!ret)
      ret = lo;
    else
      cache->lo[cache->n++] = lo;
  }
  goro__unlock(&S.glock);
  return ret;
}

void goro__stack_put_slow(goro__stack_cache_t *cache, char *lo, size_t size) {
  if (size != 0 && size != S.slot) {
    put_custom(lo, size);
    return;
  }
  if (cache && cache->n < CACHE_MAX) {
    cache->lo[cache->n++] = lo;
    return;
  }
  goro__lock(&S.glock);
  int moving = cache ? CACHE_BATCH : 0;
  for (int i = -1; i < moving; i++) {
    char *s = i < 0 ? lo : cache->lo[--cache->n];
    if (S.nwarm < WARM_MAX) {
      if (push(&S.warm, &S.nwarm, &S.capwarm, s)) continue;
    }
    /* Above the high-water mark: the monitor gives the pages back. */
    if (push(&S.pending, &S.npending, &S.cappending, s)) {
      atomic_store_explicit(&S.have_pending, 1, memory_order_relaxed);
      continue;
    }
    /* Out of memory for the list itself: release now, and leak the
     * slot's address space if even the cold list cannot take it. */
    madvise(s + GORO_PAGE, S.slot - GORO_PAGE, MADV_DONTNEED);
    (void)push(&S.cold, &S.ncold, &S.capcold, s);
  }
  goro__unlock(&S.glock);
}

static int cmp_addr(const void *a, const void *b) {
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  return x < y ? -1 : x > y;
}

void goro__stack_trim(void) {
  if (!atomic_load_explicit(&S.have_pending, memory_order_relaxed)) return;
  goro__lock(&S.glock);
  atomic_store_explicit(&S.have_pending, 0, memory_order_relaxed);
  char **list = S.pending;
  size_t n = S.npending;
  S.pending = NULL;
  S.npending = S.cappending = 0;
  size_t slot = S.slot;
  goro__unlock(&S.glock);
  if (!list) return;
  /* One madvise per run of adjacent slots; each run keeps its guard pages
   * (MADV_DONTNEED leaves guard markers in place, and mprotect guards are
   * not touched by it either). */
  qsort(list, n, sizeof *list, cmp_addr);
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && list[j] == list[j - 1] + slot) j++;
    madvise(list[i] + GORO_PAGE, (size_t)(list[j - 1] - list[i]) + slot - GORO_PAGE, MADV_DONTNEED);
    i = j;
  }
  goro__lock(&S.glock);
  for (size_t i = 0; i < n; i++) (void)push(&S.cold, &S.ncold, &S.capcold, list[i]);
  goro__unlock(&S.glock);
  free(list);
}

void goro__stack_flush(goro__stack_cache_t *cache) {
  while (cache->n > 0) {
    char *lo = cache->lo[--cache->n];
    goro__stack_put(NULL, lo, 0);
  }
}

bool goro__stack_is_guard(const void *addr) {
  const char *a = addr;
  /* Called from the SIGSEGV handler: no lock (the chunk table only grows,
   * and a torn read at worst misses, which leads to the default action). */
  for (int i = 0; i < S.nchunks && i < MAX_CHUNKS; i++) {
    const char *b = S.chunk[i];
    if (a >= b && a < b + CHUNK_SLOTS * S.slot) return (size_t)(a - b) % S.slot < GORO_PAGE;
  }
  for (custom_stack_t *c = S.custom; c; c = c->next)
    if (a >= c->lo && a < c->lo + GORO_PAGE) return true;
  return false;
}

void goro__stack_usage(int64_t *reserved, int64_t *resident) {
  static unsigned char vec[1 << 16];
  int64_t res = 0;
  goro__lock(&S.glock);
  *reserved = (int64_t)S.nchunks * CHUNK_SLOTS * (int64_t)S.slot + atomic_load(&S.custom_bytes);
  for (int i = 0; i < S.nchunks; i++) {
    size_t used = (i == S.nchunks - 1 ? S.carved : CHUNK_SLOTS) * S.slot;
    for (size_t off = 0; off < used; off += sizeof vec * GORO_PAGE) {
      size_t len = used - off;
      if (len > sizeof vec * GORO_PAGE) len = sizeof vec * GORO_PAGE;
      if (mincore(S.chunk[i] + off, len, vec) != 0) continue;
      for (size_t k = 0; k < len / GORO_PAGE; k++) res += vec[k] & 1;
    }
  }
  goro__unlock(&S.glock);
  *resident = res * GORO_PAGE;
}
