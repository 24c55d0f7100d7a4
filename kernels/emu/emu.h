// emu.h - what the emulation's own files share (not what kernels see: that is device.h).
#pragma once
#include "device.h"

namespace emu {

// The order CUDA threads (and blocks) run in between synchronisation points:
// CHORUS_EMU_ORDER=forward (default) | reverse | random, CHORUS_EMU_SEED for random.
enum Order { ORDER_FORWARD, ORDER_REVERSE, ORDER_RANDOM };
struct Options {
    Order order;
    uint64_t seed;
};
const Options &options(void);

// block.cpp: runs every block of a checked launch, one after another, on the calling thread.
void run_grid(const Kernel &k);

// runtime.cpp: the dynamic shared memory a kernel was opened up to (cudaFuncSetAttribute).
size_t dyn_smem_allowed(const void *fn);
// runtime.cpp: the launch site of the kernel running now, for messages.
const Kernel *running_kernel(void);

// The emulated device's limits (an H100's).
enum {
    MAX_THREADS = 1024,
    MAX_BLOCK_Z = 64,
    MAX_GRID_YZ = 65535,
    SMEM_DEFAULT = 48 * 1024, // a block's shared memory without opting in
    SMEM_OPTIN = 227 * 1024,  // with cudaFuncAttributeMaxDynamicSharedMemorySize
    N_SMS = 132,
};

} // namespace emu
