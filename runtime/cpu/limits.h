// cpu/limits.h - this machine's streaming-read bandwidth and int8 multiply-add peak, measured.
#pragma once
#include "cpu/isa.h"

// GB/s that `threads` threads read from memory (a 512 MB buffer summed, best of 5 passes).
double cpu_stream_read_gbps(int threads);
// G multiply-adds/s of the level's int8 dot-product instruction on `threads` threads
// (independent register accumulators, no memory traffic): the most its kernels can do.
double cpu_int8_peak_gmacs(CpuIsa isa, int threads);
