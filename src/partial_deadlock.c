/* partial_deadlock.c - GORO_DEBUG=partialdeadlock=1 (work in progress:
 * this version only provides the hooks). */
#include "sched.h"

HIDDEN void goro__partial_deadlock_poll(int64_t now);

void goro__partial_deadlock_poll(int64_t now) { (void)now; }
