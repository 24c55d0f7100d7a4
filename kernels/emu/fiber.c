// fiber.c - fiber_make / fiber_switch (fiber.h).
//
// x86-64 (System V): a switch pushes the six callee-saved registers (rbp, rbx, r12..r15), stores
// rsp in from->sp, loads to->sp and pops the same frame. Everything else is caller-saved, so the
// C compiler has already spilled what it needs around the call. The SSE and x87 control words
// (rounding modes) are not switched: no kernel changes them, and saving them (fnstcw, fldcw) was
// most of a switch's cost. A new fiber's stack is laid out as if it had been switched away
// from: a frame of zeroed registers whose r12/r13 hold the entry function and its argument, and
// whose return address is fiber_start, which calls entry(arg).
#include "fiber.h"

#include <stdint.h>

#if defined(__x86_64__)

// fiber_switch(rdi = from, rsi = to)
__asm__(".text\n"
        ".globl fiber_switch\n"
        ".type fiber_switch,@function\n"
        "fiber_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq (%rsi), %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size fiber_switch, .-fiber_switch\n"
        // First entry of a fiber: rsp is 16-byte aligned here (the frame below is laid out so),
        // so the call leaves the callee's rsp at 8 mod 16, as the ABI requires at entry.
        ".globl fiber_start\n"
        ".type fiber_start,@function\n"
        "fiber_start:\n"
        "    movq %r13, %rdi\n"
        "    callq *%r12\n"
        "    ud2\n" // entry returned: a bug (fiber.h)
        ".size fiber_start, .-fiber_start\n");

void fiber_start(void);

void fiber_make(Fiber *f, void *stack, size_t size, void (*entry)(void *), void *arg) {
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top;
    *--sp = (uint64_t)(uintptr_t)fiber_start; // popped by ret: rsp = top afterwards
    *--sp = 0;                                // rbp
    *--sp = 0;                                // rbx
    *--sp = (uint64_t)(uintptr_t)entry;       // r12
    *--sp = (uint64_t)(uintptr_t)arg;         // r13
    *--sp = 0;                                // r14
    *--sp = 0;                                // r15
    f->sp = sp;
}

#else // portable fallback

typedef void (*EntryFn)(void *);
static void fiber_entry_u(unsigned hi_e, unsigned lo_e, unsigned hi_a, unsigned lo_a) {
    EntryFn e = (EntryFn)(uintptr_t)(((uint64_t)hi_e << 32) | lo_e);
    void *a = (void *)(uintptr_t)(((uint64_t)hi_a << 32) | lo_a);
    e(a);
}

void fiber_make(Fiber *f, void *stack, size_t size, void (*entry)(void *), void *arg) {
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = stack;
    f->uc.uc_stack.ss_size = size;
    f->uc.uc_link = NULL;
    uint64_t e = (uint64_t)(uintptr_t)entry, a = (uint64_t)(uintptr_t)arg;
    makecontext(&f->uc, (void (*)(void))fiber_entry_u, 4, (unsigned)(e >> 32), (unsigned)e,
                (unsigned)(a >> 32), (unsigned)a);
}

void fiber_switch(Fiber *from, Fiber *to) {
    swapcontext(&from->uc, &to->uc);
}

#endif
