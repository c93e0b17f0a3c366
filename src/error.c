/* error.c - error codes and their messages, from the table in goro.h. */
#include "internal.h"

#include <string.h>

const char *goro_strerror(int err) {
  switch (err) {
    case 0:
      return "success";
#define GORO_XX_MSG(name, val, msg) \
  case GORO_##name:                 \
    return msg;
      GORO_ERRNO_MAP(GORO_XX_MSG)
#undef GORO_XX_MSG
    default:
      break;
  }
  if (err < 0 && err > -4000) {
    /* strerror for an errno value (glibc's table is static). */
    return strerrordesc_np(-err) ? strerrordesc_np(-err) : "unknown error";
  }
  return "unknown error";
}

const char *goro_err_name(int err) {
  switch (err) {
#define GORO_XX_NAME(name, val, msg) \
  case GORO_##name:                  \
    return "GORO_" #name;
    GORO_ERRNO_MAP(GORO_XX_NAME)
#undef GORO_XX_NAME
    default:
      return "GORO_E?";
  }
}
