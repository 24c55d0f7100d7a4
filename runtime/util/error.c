// error.c - error_at (error.h).
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>

int error_at(char *err, size_t n, const char *path, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && n) snprintf(err, n, "%s: %s", path, msg);
    return -1;
}
