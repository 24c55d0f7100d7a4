// fiber.h - the smallest user-space context switch: a fiber is a stack and a saved stack
// pointer; fiber_switch saves the callee-saved registers of the running context on its stack,
// stores its stack pointer and resumes another. The CUDA emulation runs every CUDA thread of a
// block as one fiber (kernels/emu/block.cpp), so a switch happens at every barrier and warp
// operation: it must cost nanoseconds, not the microsecond of swapcontext (which also saves the
// signal mask with a system call).
//
// x86-64 has the hand-written switch (fiber.c); other machines fall back to ucontext.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__x86_64__)
typedef struct {
    void *sp; // saved stack pointer (what fiber_switch resumes)
} Fiber;
#else
#include <ucontext.h>
typedef struct {
    ucontext_t uc;
} Fiber;
#endif

// Prepares f to run entry(arg) on the stack [stack, stack + size) when first switched to.
// entry must never return: it ends by switching away for good.
void fiber_make(Fiber *f, void *stack, size_t size, void (*entry)(void *), void *arg);
// Saves the running context into from and resumes to.
void fiber_switch(Fiber *from, Fiber *to);

#ifdef __cplusplus
}
#endif
