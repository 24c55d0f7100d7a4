// clock.h - the monotonic clock in seconds (timings, budgets, progress lines).
#pragma once
#include <time.h>

// Seconds on CLOCK_MONOTONIC: only differences mean anything.
static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
