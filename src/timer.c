/* timer.c - per-P timer heaps (placeholder until the timer module lands). */
#include "internal.h"

int64_t goro__timers_check(p_t *p, int64_t now) {
  (void)p;
  (void)now;
  return -1;
}
int64_t goro__timers_next(p_t *p) {
  (void)p;
  return -1;
}
void goro__timers_p_init(p_t *p) { (void)p; }
void goro__timers_p_destroy(p_t *p) { (void)p; }
void goro__timers_move(p_t *from, p_t *to) {
  (void)from;
  (void)to;
}

#include "timer.h"
void goro__rtimer_init(rtimer_t *t, goro__rtimer_fn f, void *arg) {
  t->f = f;
  t->arg = arg;
}
void goro__rtimer_start(rtimer_t *t, int64_t when, int64_t period) {
  (void)t;
  (void)when;
  (void)period;
  goro__throw("timers are not implemented yet");
}
bool goro__rtimer_stop(rtimer_t *t) {
  (void)t;
  return false;
}
