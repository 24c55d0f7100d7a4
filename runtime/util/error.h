// error.h - the one-line error messages of the loaders: "PATH: what is wrong".
#pragma once
#include <stddef.h>

// Writes "path: <fmt formatted>" to err[n] (nothing when err is NULL or n is 0; the message is
// cut at 512 bytes) and returns -1, so a loader can `return error_at(...)`.
__attribute__((format(printf, 4, 5))) int error_at(char *err, size_t n, const char *path,
                                                   const char *fmt, ...);
