/* netpoll.c - poll descriptors (placeholder until the network module lands). */
#include "netpoll.h"

_Atomic int32_t goro__netpoll_waiters;

void goro__netpoll_event(uint64_t data, uint32_t events, g_t **head, g_t **tail, int *n) {
  (void)data;
  (void)events;
  (void)head;
  (void)tail;
  (void)n;
}

void goro__netpoll_pd_fini(void) {}
