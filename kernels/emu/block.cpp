// block.cpp - running a grid on the CPU: every block in turn, every CUDA thread of a block a
// fiber (fiber.h) on the calling CPU thread, switched at the points where CUDA threads wait for
// each other. What is checked, because it is where kernels break:
//   __syncthreads   every live (not exited) thread of the block must wait at the same call site
//                   before any continues; threads at different sites, or a barrier that can
//                   never complete, stop the run with the sites named.
//   warp operations a lane waits until every lane of its mask has made the same operation with
//                   the same mask (and width); a lane outside its own mask, a mask naming an
//                   exited or missing lane, different masks or operations, a shuffle reading a
//                   lane outside the mask, all stop the run. Shuffles follow shfl.sync's lane
//                   arithmetic (PTX ISA: segment mask from the width, clamp, up/down/bfly/idx).
//   shared memory   fresh for every block and filled with 0xff bytes (NaN as float, -1 as int),
//                   each variable fenced by red zones: poisoned for ASan, or filled with a
//                   pattern that is checked when the block ends (a write past a variable).
//   stacks          each fiber's stack ends in a canary, checked when the block ends.
// A failure prints the kernel, its launch site, the block and thread and what went wrong, and
// aborts: a kernel bug is not an error code to be ignored.
//
// Sanitizers. ASan: fiber switches are announced (__sanitizer_*_switch_fiber). TSan: every CUDA
// thread is a TSan fiber, switched without synchronisation; what synchronises is said to TSan
// explicitly: a barrier (all its threads release into the block's barrier object when it
// completes, and acquire it when they resume), __syncwarp (the same among its lanes), the launch
// (the host's writes before it) and the kernel's end (the host acquires it). Shuffles and votes
// do not order memory, so warp-synchronous code without __syncwarp is reported, and so are two
// blocks writing one address, unless the two ran in the same fiber set (SETS below). This file
// itself is built without TSan instrumentation: its bookkeeping is ordered by the fiber
// switches, which TSan cannot see.
#include "emu.h"
#include "fiber.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <random>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__) || defined(EMU_TSAN)
#undef EMU_TSAN
#define EMU_TSAN 1
extern "C" {
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
}
#define TSAN_NO_SYNC 1u // __tsan_switch_to_fiber_no_sync
#endif

namespace emu {

thread_local const Ids *ids;

namespace {

constexpr size_t STACK = 64 * 1024;  // per CUDA thread; kernels use a few KiB
constexpr size_t REDZONE = 64;       // around every shared variable
constexpr size_t ARENA = 512 * 1024; // a block's shared memory: up to 227 KiB + red zones
constexpr size_t SYNC_BYTES = 16384; // addresses of TSan sync objects (block, barrier, warps)
constexpr uint8_t FENCE = 0xa5;      // red zone pattern (no sanitizer)
constexpr uint64_t CANARY = 0x5ca1ab1ec0ffee00ull;

enum State { READY, AT_BARRIER, AT_WARP, EXITED };
const char *const WARP_NAME[] = {"__shfl_sync",     "__shfl_up_sync", "__shfl_down_sync",
                                 "__shfl_xor_sync", "__ballot_sync",  "__any_sync",
                                 "__all_sync",      "__syncwarp"};

struct Thread {
    Ids id; // what threadIdx, blockIdx, ... read
    Fiber fiber;
    char *stack;     // its own stack
    char *run_stack; // the stack it runs on: its own, or one an ended thread handed on
    bool started;    // it has run
    bool own_fiber;  // its fiber was made on its own stack (made when first switched to)
    int linear, lane, warp, state;
    Site site; // where it waits
    int kind, arg, width;
    unsigned mask;
    uint64_t val, result;
    void *tsan_fiber;
    void *asan_fake;
};

struct SharedVar {
    Site site;
    const char *name;
    char *p;
    size_t size;
};

// Everything one block needs; one per CPU thread, reused by every block it runs.
struct Block {
    const Kernel *k;
    std::vector<Thread> t;
    int n, live;
    Thread *running;
    Fiber host;
    char *region;         // [SYNC_BYTES | ARENA | stacks], mmap'd
    size_t region_stacks; // stacks the region holds
    char *arena;
    size_t arena_used, static_bytes;
    std::vector<std::pair<char *, size_t>> fences; // red zones to check (no sanitizer)
    std::vector<SharedVar> vars;
    char *dyn;
    size_t dyn_size;
    std::vector<int> order;                        // the order threads run in during a sweep
    int pos;                                       // the position in it of the thread running now
    uint32_t present[32], arrived[32], exited[32]; // lanes of each warp: exist, wait, have ended
    std::mt19937_64 rng;
    const void *host_stack;
    size_t host_stack_size;
    void *host_fake;
    void *host_tsan;
    std::vector<void *> tsan_fibers; // TSan: one per thread slot, made once, kept
};

// TSan: blocks run in SETS fiber sets, block i in set i % SETS (reusing its fibers, stacks and
// shared memory: TSan fibers are expensive to make). Blocks of one set are ordered for TSan (each
// acquires what the previous one released at its end, as if it ran after it on one SM); blocks
// of different sets are not, so two blocks writing one address are reported unless they are a
// multiple of SETS apart in the run order (CHORUS_EMU_ORDER=random pairs them differently).
#ifdef EMU_TSAN
constexpr int SETS = 4;
#else
constexpr int SETS = 1;
#endif
thread_local Block *sets[SETS];
thread_local Block *cur; // the set running now
#ifdef EMU_TSAN
char kernel_done; // every thread of a kernel releases here; the host acquires at its end
#endif

// ---- failure messages -----------------------------------------------------------------------

void vfail_at(const Thread *t, const char *fmt, va_list ap) {
    const Block *b = cur;
    fflush(stdout);
    fprintf(stderr, "chorus-emu: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    if (b && b->k) {
        const Kernel *k = b->k;
        const Ids &i = t ? t->id : b->t[0].id;
        fprintf(stderr,
                "  in kernel %s launched at %s:%d, grid (%u,%u,%u) x block (%u,%u,%u), "
                "block (%u,%u,%u)",
                k->name, k->site.file, k->site.line, k->cfg.grid.x, k->cfg.grid.y, k->cfg.grid.z,
                k->cfg.block.x, k->cfg.block.y, k->cfg.block.z, i.block.x, i.block.y, i.block.z);
        if (t) fprintf(stderr, ", thread (%u,%u,%u)", i.thread.x, i.thread.y, i.thread.z);
        fputc('\n', stderr);
    }
    abort();
}

[[noreturn]] void fail_at(const Thread *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fail_at(const Thread *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail_at(t, fmt, ap);
    va_end(ap);
    abort();
}

#ifdef EMU_TSAN
// TSan sync objects of a fiber set: addresses in its region.
void *barrier_sync(Block *b) { // __syncthreads
    return b->region;
}
void *set_sync(Block *b) { // the end of the set's previous block
    return b->region + 8;
}
void *launch_sync(Block *b) { // the host's writes before a block
    return b->region + 16;
}
void *warp_sync(Block *b, int warp, unsigned mask) { // one per (warp, lowest lane of the mask)
    return b->region + 64 + 8 * ((size_t)warp * 32 + __builtin_ctz(mask));
}
// Writes of the emulation itself (shared memory's 0xff fill, red zones, a new fiber's first
// frame) are nobody's: TSan must not see them as a CUDA thread's or the host's.
struct Unseen {
    Unseen() { __tsan_ignore_thread_begin(); }
    ~Unseen() { __tsan_ignore_thread_end(); }
};
// Releases into obj on behalf of each of the threads (they are all waiting), then returns to
// the TSan context of `self` (NULL: the host).
void release_for(Block *b, const std::vector<Thread *> &ts, void *obj, Thread *self) {
    for (Thread *t : ts) {
        __tsan_switch_to_fiber(t->tsan_fiber, TSAN_NO_SYNC);
        __tsan_release(obj);
    }
    __tsan_switch_to_fiber(self ? self->tsan_fiber : b->host_tsan, TSAN_NO_SYNC);
}
#else
struct Unseen {
    Unseen() {} // (a user-written constructor: no unused-variable warning)
};
#endif

// ---- switching ------------------------------------------------------------------------------

void thread_main(void *arg);

// From `from` to `to` (NULL: the host, this CPU thread's own stack); returns when something
// switches back to `from`. `last`: `from` has exited and is never resumed.
void switch_to(Block *b, Thread *from, Thread *to, bool last) {
    if (to && !to->started && !to->own_fiber) { // its first run, on its own stack
        to->own_fiber = true;
#ifdef EMU_ASAN
        ASAN_UNPOISON_MEMORY_REGION(to->stack, STACK);
#endif
        Unseen unseen;
        memcpy(to->stack, &CANARY, sizeof CANARY);
        fiber_make(&to->fiber, to->stack, STACK, thread_main, to);
    }
    b->running = to;
    ids = to ? &to->id : NULL;
#ifdef EMU_ASAN
    void **fake = last ? NULL : from ? &from->asan_fake : &b->host_fake;
    if (to)
        __sanitizer_start_switch_fiber(fake, to->run_stack, STACK);
    else
        __sanitizer_start_switch_fiber(fake, b->host_stack, b->host_stack_size);
#endif
#ifdef EMU_TSAN
    __tsan_switch_to_fiber(to ? to->tsan_fiber : b->host_tsan, TSAN_NO_SYNC);
#endif
    fiber_switch(from ? &from->fiber : &b->host, to ? &to->fiber : &b->host);
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(from ? from->asan_fake : b->host_fake, NULL, NULL);
#endif
}

// The next ready thread of this sweep (b->pos moves to it), or NULL: the sweep is over.
Thread *next_ready(Block *b) {
    for (int i = b->pos + 1; i < b->n; i++)
        if (b->t[b->order[i]].state == READY) return b->pos = i, &b->t[b->order[i]];
    return NULL;
}

// t waits (or has exited): the next ready thread of this sweep runs, or, if none, the host
// starts the next sweep. A direct switch: one per wait, not two through the host.
void yield(Block *b, Thread *t, bool last) {
    switch_to(b, t, next_ready(b), last);
}

// t's kernel has returned.
void finish(Block *b, Thread *t) {
#ifdef EMU_TSAN
    __tsan_release(&kernel_done);
    __tsan_release(set_sync(b));
#endif
    t->state = EXITED;
    b->live--;
    b->exited[t->warp] |= 1u << t->lane;
    // Lanes of this warp already waiting for this one can never complete.
    const int base = t->warp * 32;
    for (uint32_t w = b->arrived[t->warp]; w; w &= w - 1) {
        const Thread *o = &b->t[base + __builtin_ctz(w)];
        if (o->mask >> t->lane & 1)
            fail_at(t, "thread exited while lane %d waits for it in %s at %s:%d (mask 0x%08x)",
                    o->lane, WARP_NAME[o->kind], o->site.file, o->site.line, o->mask);
    }
}

// A fiber's life: the kernel for its thread; then, while the next thread of the sweep has not
// started, the kernel for that one on the same stack (the ended thread needs it no more: no
// switch, which matters where most threads of a grid return at once, as in the blocks past a
// launch's counts). Not under TSan: there, stack memory that two CUDA threads used would look
// shared between them.
void thread_main(void *arg) {
    Thread *t = (Thread *)arg;
    Block *b = cur;
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    for (;;) {
        t->started = true;
        b->k->body();
        finish(b, t);
        Thread *next = next_ready(b);
#ifndef EMU_TSAN
        if (next && !next->started) {
            next->run_stack = t->run_stack;
            b->running = next;
            ids = &next->id;
            t = next;
            continue;
        }
#endif
        switch_to(b, t, next, true);
        __builtin_trap(); // never resumed
    }
}

// ---- shared memory --------------------------------------------------------------------------

// `size` bytes of the arena after a red zone, aligned to `align`; 0xff-filled.
char *arena_alloc(Block *b, size_t size, size_t align, const char *what) {
    align = align < 16 ? 16 : align;
    size_t at = (b->arena_used + REDZONE + align - 1) / align * align;
    if (at + size + REDZONE > ARENA)
        fail_at(b->running, "shared memory: %s needs %zu more bytes than the emulation's arena",
                what, at + size + REDZONE - ARENA);
    char *p = b->arena + at;
    Unseen unseen;
#ifdef EMU_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
    memset(b->arena + b->arena_used, FENCE, at - b->arena_used);
    b->fences.push_back({b->arena + b->arena_used, at - b->arena_used});
    memset(p + size, FENCE, REDZONE);
    b->fences.push_back({p + size, REDZONE});
#endif
    memset(p, 0xff, size); // (a static variable is made by the first thread that reaches it)
    b->arena_used = at + size;
    return p;
}

void check_fences(Block *b) {
    for (const auto &f : b->fences)
        for (size_t j = 0; j < f.second; j++) {
            if ((uint8_t)f.first[j] == FENCE) continue;
            // name the variable that ends nearest before the damaged byte
            const char *bad = f.first + j, *end = NULL, *what = NULL;
            Site s = b->k->site;
            if (b->dyn && b->dyn + b->dyn_size <= bad)
                what = "the dynamic shared memory (extern __shared__)", end = b->dyn + b->dyn_size;
            for (const SharedVar &v : b->vars)
                if (v.p + v.size <= bad && (!end || v.p + v.size > end))
                    what = v.name, s = v.site, end = v.p + v.size;
            if (!what)
                fail_at(NULL,
                        "shared memory written out of bounds, %zu bytes before the first "
                        "shared variable",
                        (size_t)(b->arena + REDZONE - bad));
            fail_at(NULL,
                    "shared memory written out of bounds, %zu bytes past the end of %s "
                    "(declared at %s:%d)",
                    (size_t)(bad - end) + 1, what, s.file, s.line);
        }
}

// ---- the block ------------------------------------------------------------------------------

char *map_region(char *at, size_t bytes) {
    void *p = mmap(at, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at ? MAP_FIXED : 0), -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "chorus-emu: cannot map %zu bytes: %s\n", bytes, strerror(errno));
        abort();
    }
    return (char *)p;
}

// The fiber set of the i-th block of a grid, made on first use.
Block *block_state(size_t i) {
    Block *&b = sets[i % SETS];
    if (!b) {
        b = new Block();
        b->region = map_region(NULL, SYNC_BYTES + ARENA + (size_t)MAX_THREADS * STACK);
        // Every switch lands on another stack: huge pages keep those landings out of the TLB's
        // misses (a third of the run time with 4 KiB pages).
        madvise(b->region, SYNC_BYTES + ARENA + (size_t)MAX_THREADS * STACK, MADV_HUGEPAGE);
        b->region_stacks = MAX_THREADS;
        b->rng.seed(options().seed);
#ifdef EMU_ASAN
        pthread_attr_t a; // the host's stack, for the switches back to it
        pthread_getattr_np(pthread_self(), &a);
        void *lo;
        pthread_attr_getstack(&a, &lo, &b->host_stack_size);
        b->host_stack = lo;
        pthread_attr_destroy(&a);
#endif
    }
    cur = b;
    return b;
}

void setup_block(Block *b, const Kernel *k, uint3 bid) {
    const dim3 bd = k->cfg.block;
    const int n = (int)(bd.x * bd.y * bd.z);
    b->k = k;
    b->n = n;
    b->live = n;
    b->arena = b->region + SYNC_BYTES;
    b->arena_used = 0;
    b->fences.clear();
    b->vars.clear();
#ifdef EMU_ASAN
    ASAN_POISON_MEMORY_REGION(b->arena, ARENA);
#endif
    b->dyn_size = k->cfg.smem;
    b->dyn = NULL; // made when a thread first asks (most blocks past a launch's counts never do)
    b->static_bytes = 0;
    b->t.resize(n);
    for (int i = 0; i < n; i++) {
        Thread *t = &b->t[i];
        t->id.thread =
            uint3{(unsigned)i % bd.x, (unsigned)i / bd.x % bd.y, (unsigned)i / (bd.x * bd.y)};
        t->id.block = bid;
        t->id.block_dim = bd;
        t->id.grid_dim = k->cfg.grid;
        t->linear = i, t->lane = i % 32, t->warp = i / 32, t->state = READY;
        t->stack = t->run_stack = b->region + SYNC_BYTES + ARENA + (size_t)i * STACK;
        t->started = false;
        t->own_fiber = false;
        t->asan_fake = NULL;
#ifdef EMU_TSAN
        if ((size_t)i >= b->tsan_fibers.size()) b->tsan_fibers.push_back(__tsan_create_fiber(0));
        t->tsan_fiber = b->tsan_fibers[i];
#endif
    }
#ifdef EMU_TSAN
    // Every thread of the block acquires the host's writes before the launch and the end of the
    // set's previous block now, before any of them runs: a thread that acquired when it first
    // ran would also acquire what its block's threads that ran and ended before it released.
    b->host_tsan = __tsan_get_current_fiber();
    __tsan_release(launch_sync(b));
    for (int i = 0; i < n; i++) {
        __tsan_switch_to_fiber(b->t[i].tsan_fiber, TSAN_NO_SYNC);
        __tsan_acquire(launch_sync(b));
        __tsan_acquire(set_sync(b));
    }
    __tsan_switch_to_fiber(b->host_tsan, TSAN_NO_SYNC);
#endif
    b->order.resize(n);
    for (int i = 0; i < n; i++) b->order[i] = options().order == ORDER_REVERSE ? n - 1 - i : i;
    for (int w = 0; w < 32; w++) {
        const int lanes = n - 32 * w < 0 ? 0 : n - 32 * w > 32 ? 32 : n - 32 * w;
        b->present[w] = lanes == 32 ? ~0u : (1u << lanes) - 1;
        b->arrived[w] = b->exited[w] = 0;
    }
}

// No thread can run: complete the barrier every live thread waits at, or stop with a report.
void stalled(Block *b) {
    int at_bar = 0, at_warp = 0;
    const Thread *first = NULL;
    for (const Thread &t : b->t) {
        if (t.state == AT_BARRIER) {
            at_bar++;
            if (!first) first = &t;
            if (t.site.file != first->site.file || t.site.line != first->site.line)
                fail_at(&t,
                        "__syncthreads at %s:%d while thread (%u,%u,%u) waits at "
                        "__syncthreads at %s:%d: a barrier must be reached by every live "
                        "thread of the block at the same place",
                        t.site.file, t.site.line, first->id.thread.x, first->id.thread.y,
                        first->id.thread.z, first->site.file, first->site.line);
        }
        at_warp += t.state == AT_WARP;
    }
    if (at_warp == 0 && at_bar == b->live) {
#ifdef EMU_TSAN
        std::vector<Thread *> ts;
        for (Thread &t : b->t)
            if (t.state == AT_BARRIER) ts.push_back(&t);
        release_for(b, ts, barrier_sync(b), NULL);
#endif
        for (Thread &t : b->t)
            if (t.state == AT_BARRIER) t.state = READY;
        return;
    }
    // A deadlock: say who waits where.
    for (const Thread &t : b->t)
        if (t.state == AT_WARP) {
            const int base = t.warp * 32;
            for (int j = 0; j < 32; j++) {
                if (!(t.mask >> j & 1) || base + j >= b->n) continue;
                const Thread &o = b->t[base + j];
                if (o.state == AT_BARRIER)
                    fail_at(&t,
                            "deadlock: %s at %s:%d (mask 0x%08x) waits for lane %d, which "
                            "waits at __syncthreads at %s:%d",
                            WARP_NAME[t.kind], t.site.file, t.site.line, t.mask, j, o.site.file,
                            o.site.line);
            }
        }
    fail_at(first,
            "deadlock: %d threads wait at a barrier and %d in warp operations, none can "
            "go on",
            at_bar, at_warp);
}

void run_block(const Kernel *k, uint3 bid, size_t seq) {
    Block *b = block_state(seq);
    setup_block(b, k, bid);
    const int n = b->n;
    while (b->live > 0) { // a sweep: every ready thread runs once, in b->order
        if (options().order == ORDER_RANDOM) std::shuffle(b->order.begin(), b->order.end(), b->rng);
        int first = 0;
        while (first < n && b->t[b->order[first]].state != READY) first++;
        if (first == n) {
            stalled(b); // nobody can run: a barrier completes, or the run stops
            continue;
        }
        b->pos = first;
        switch_to(b, NULL, &b->t[b->order[first]], false);
    }
    for (Thread &t : b->t) {
        if (!t.own_fiber) continue;
        uint64_t c;
        {
            Unseen unseen;
            memcpy(&c, t.stack, sizeof c);
        }
        if (c != CANARY)
            fail_at(&t, "stack overflow: a CUDA thread used its %zu-byte stack", STACK);
    }
    check_fences(b); // none under ASan: its poisoned red zones report at once
    b->k = NULL;
}

Thread *self(const char *what) {
    Block *b = cur;
    if (!b || !b->running) {
        fprintf(stderr, "chorus-emu: %s called outside a kernel\n", what);
        abort();
    }
    return b->running;
}

// Lane j's result of the shuffle every lane in `mask` made (shfl.sync's lane arithmetic).
uint64_t shuffle(Block *b, const Thread *t, int base) {
    const int lane = t->lane, c_seg = (32 - t->width) & 31; // segment mask bits
    const int clamp = t->kind == W_SHFL_UP ? 0 : 31;
    const int bval = t->arg & 31;
    const int max_lane = (lane & c_seg) | (clamp & ~c_seg), min_lane = lane & c_seg;
    int j;
    bool in;
    switch (t->kind) {
    case W_SHFL_UP: j = lane - bval, in = j >= max_lane; break;
    case W_SHFL_DOWN: j = lane + bval, in = j <= max_lane; break;
    case W_SHFL_XOR: j = lane ^ bval, in = j <= max_lane; break;
    default: j = min_lane | (bval & ~c_seg), in = j <= max_lane; break;
    }
    if (!in) j = lane; // outside the segment: the lane keeps its own value
    if (!(t->mask >> j & 1))
        fail_at(t, "%s at %s:%d reads lane %d, which is not in the mask 0x%08x", WARP_NAME[t->kind],
                t->site.file, t->site.line, j, t->mask);
    return b->t[base + j].val;
}

// Every lane of me's mask has arrived: check that they all made the same operation with the
// same mask, give each its result, and let them go on.
void complete(Block *b, Thread *me) {
    const int base = me->warp * 32;
    uint64_t votes = 0;
    for (uint32_t m = me->mask; m; m &= m - 1) {
        const Thread *o = &b->t[base + __builtin_ctz(m)];
        if (o->mask != me->mask || o->kind != me->kind || o->width != me->width)
            fail_at(me, "%s at %s:%d (mask 0x%08x) meets lane %d in %s at %s:%d (mask 0x%08x)",
                    WARP_NAME[me->kind], me->site.file, me->site.line, me->mask, o->lane,
                    WARP_NAME[o->kind], o->site.file, o->site.line, o->mask);
        votes |= (uint64_t)(o->val != 0) << o->lane;
    }
    const int n_in = __builtin_popcount(me->mask);
    std::vector<Thread *> group;
    for (uint32_t m = me->mask; m; m &= m - 1) {
        Thread *o = &b->t[base + __builtin_ctz(m)];
        switch (o->kind) {
        case W_BALLOT: o->result = votes; break;
        case W_ANY: o->result = votes != 0; break;
        case W_ALL: o->result = __builtin_popcountll(votes) == n_in; break;
        case W_SYNC: o->result = 0; break;
        default: o->result = shuffle(b, o, base); break;
        }
#ifdef EMU_TSAN
        if (me->kind == W_SYNC) group.push_back(o);
#endif
    }
#ifdef EMU_TSAN
    if (me->kind == W_SYNC) release_for(b, group, warp_sync(b, me->warp, me->mask), me);
#endif
    for (uint32_t m = me->mask; m; m &= m - 1) b->t[base + __builtin_ctz(m)].state = READY;
    b->arrived[me->warp] &= ~me->mask;
}

} // namespace

// ---- what kernels call (device.h) -----------------------------------------------------------

void syncthreads(Site s) {
    Thread *t = self("__syncthreads");
    t->state = AT_BARRIER;
    t->site = s;
    yield(cur, t, false);
#ifdef EMU_TSAN
    __tsan_acquire(barrier_sync(cur));
#endif
}

uint64_t warp_op(Site s, int kind, unsigned mask, uint64_t value, int arg, int width) {
    Thread *t = self(WARP_NAME[kind]);
    if (width < 1 || width > 32 || (width & (width - 1)))
        fail_at(t, "%s at %s:%d: width %d is not a power of two in 1..32", WARP_NAME[kind], s.file,
                s.line, width);
    if (!(mask >> t->lane & 1))
        fail_at(t, "%s at %s:%d: lane %d calls it with mask 0x%08x, which leaves it out",
                WARP_NAME[kind], s.file, s.line, t->lane, mask);
    Block *b = cur;
    const int w = t->warp;
    if (mask & ~b->present[w])
        fail_at(t,
                "%s at %s:%d: mask 0x%08x names lane %d, which this block of %d threads does "
                "not have",
                WARP_NAME[kind], s.file, s.line, mask, __builtin_ctz(mask & ~b->present[w]), b->n);
    if (mask & b->exited[w])
        fail_at(t, "%s at %s:%d: mask 0x%08x names lane %d, which has exited", WARP_NAME[kind],
                s.file, s.line, mask, __builtin_ctz(mask & b->exited[w]));
    t->state = AT_WARP;
    t->site = s, t->kind = kind, t->mask = mask, t->val = value, t->arg = arg, t->width = width;
    b->arrived[w] |= 1u << t->lane;
    if ((b->arrived[w] & mask) == mask)
        complete(b, t); // the last to arrive goes on at once
    else
        yield(b, t, false);
#ifdef EMU_TSAN
    if (kind == W_SYNC) __tsan_acquire(warp_sync(cur, t->warp, mask));
#endif
    return t->result;
}

void *shared_var(Site s, const char *name, size_t size, size_t align) {
    Thread *t = self("a __shared__ variable");
    Block *b = cur;
    for (const SharedVar &v : b->vars)
        if (v.site.line == s.line && v.site.file == s.file) return v.p;
    b->static_bytes += size;
    if (b->static_bytes > SMEM_DEFAULT)
        fail_at(t, "%zu bytes of static shared memory (%s at %s:%d): over the 48 KiB nvcc allows",
                b->static_bytes, name, s.file, s.line);
    // A block's whole shared memory: 48 KiB, or the device's opt-in maximum for a kernel opened
    // up with cudaFuncSetAttribute (the launch already checked the dynamic part against that).
    const size_t limit = dyn_smem_allowed(b->k->fn) ? (size_t)SMEM_OPTIN : (size_t)SMEM_DEFAULT;
    if (b->static_bytes + b->dyn_size > limit)
        fail_at(t,
                "%zu bytes of static and %zu of dynamic shared memory: over the %zu a block "
                "may have",
                b->static_bytes, b->dyn_size, limit);
    char *p = arena_alloc(b, size, align, name);
    b->vars.push_back(SharedVar{s, name, p, size});
    return p;
}

void *dyn_shared(void) {
    self("extern __shared__");
    Block *b = cur;
    if (!b->dyn) b->dyn = arena_alloc(b, b->dyn_size, 16, "the dynamic shared memory");
    return b->dyn;
}

void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail_at(cur ? cur->running : NULL, fmt, ap);
    va_end(ap);
    abort();
}

void run_grid(const Kernel &k) {
    const dim3 g = k.cfg.grid;
    const size_t n = (size_t)g.x * g.y * g.z;
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; i++) order[i] = options().order == ORDER_REVERSE ? n - 1 - i : i;
    if (options().order == ORDER_RANDOM) {
        std::mt19937_64 rng(options().seed ^ n);
        std::shuffle(order.begin(), order.end(), rng);
    }
    size_t seq = 0;
    for (size_t i : order)
        run_block(&k,
                  uint3{(unsigned)(i % g.x), (unsigned)(i / g.x % g.y),
                        (unsigned)(i / ((size_t)g.x * g.y))},
                  seq++);
#ifdef EMU_TSAN
    __tsan_acquire(&kernel_done);
#endif
}

} // namespace emu
