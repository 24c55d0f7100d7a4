// cpu/isa.c - run-time choice of the int8 kernels' instruction set (see cpu/isa.h).
//
// Detection reads cpuid and, for the vector registers, XGETBV: a CPU may have AVX-512 while the
// operating system does not save the zmm registers, and then the instructions fault.
#include "cpu/isa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

typedef struct {
    int avx2, avxvnni, avx512vnni, avx512bf16;
} Features;

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static Features detect(void) {
    Features f = {0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const int osxsave = c >> 27 & 1, avx = c >> 28 & 1, fma = c >> 12 & 1, f16c = c >> 29 & 1;
    if (!osxsave || !avx) return f;
    const unsigned long long xcr0 = xgetbv0();
    const int ymm_ok = (xcr0 & 0x6) == 0x6, zmm_ok = (xcr0 & 0xe6) == 0xe6;
    if (!ymm_ok || __get_cpuid_max(0, NULL) < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = b >> 5 & 1, avx512f = b >> 16 & 1, avx512bw = b >> 30 & 1,
              avx512vl = b >> 31 & 1, avx512vnni = c >> 11 & 1;
    __cpuid_count(7, 1, a, b, c, d);
    const int avxvnni = a >> 4 & 1, avx512bf16 = a >> 5 & 1;
    f.avx2 = avx2 && fma && f16c;
    f.avxvnni = f.avx2 && avxvnni;
    f.avx512vnni = f.avx2 && zmm_ok && avx512f && avx512bw && avx512vl && avx512vnni;
    f.avx512bf16 = f.avx512vnni && avx512bf16;
    return f;
}

static Features features(void) {
    static int done;
    static Features f;
    if (!done) f = detect(), done = 1;
    return f;
}

static int cpu_supports(CpuIsa isa) {
    const Features f = features();
    switch (isa) {
    case ISA_PORTABLE: return 1;
    case ISA_AVX2: return f.avx2;
    case ISA_AVXVNNI: return f.avxvnni;
    case ISA_AVX512VNNI: return f.avx512vnni;
    default: return 0;
    }
}

int cpu_has_avx512bf16(void) {
    return features().avx512bf16;
}
#else
static int cpu_supports(CpuIsa isa) {
    return isa == ISA_PORTABLE;
}
int cpu_has_avx512bf16(void) {
    return 0;
}
#endif

// One table per level, defined by qgemm_kernels.c compiled at that level.
extern const struct QKernels *const qgemm_table_0, *const qgemm_table_1, *const qgemm_table_2,
                                                                             *const qgemm_table_3;

const struct QKernels *qgemm_kernels_for(CpuIsa isa) {
    switch (isa) {
    case ISA_PORTABLE: return qgemm_table_0;
    case ISA_AVX2: return qgemm_table_1;
    case ISA_AVXVNNI: return qgemm_table_2;
    case ISA_AVX512VNNI: return qgemm_table_3;
    default: return NULL;
    }
}

static const char *const names[ISA_COUNT] = {"portable", "avx2", "avxvnni", "avx512vnni"};

const char *cpu_isa_name(CpuIsa isa) {
    return isa >= 0 && isa < ISA_COUNT ? names[isa] : "unknown";
}

int cpu_isa_available(CpuIsa isa) {
    return isa >= 0 && isa < ISA_COUNT && qgemm_kernels_for(isa) != NULL && cpu_supports(isa);
}

static int chosen = -1; // the level in use, once decided

int cpu_isa_check_env(char *err, int errlen) {
    const char *v = getenv("CHORUS_ISA");
    if (!v || !*v) return 0;
    for (int i = 0; i < ISA_COUNT; i++)
        if (!strcmp(v, names[i])) {
            if (cpu_isa_available(i)) return 0;
            snprintf(err, errlen, "CHORUS_ISA=%s: this %s", v,
                     cpu_supports(i) ? "build has no kernels for it (its compiler lacks the flags)"
                                     : "CPU does not support it");
            return -1;
        }
    snprintf(err, errlen, "CHORUS_ISA=%s: unknown level (portable, avx2, avxvnni, avx512vnni)", v);
    return -1;
}

CpuIsa cpu_isa(void) {
    if (chosen >= 0) return chosen;
    char err[160];
    const char *v = getenv("CHORUS_ISA");
    if (v && *v && !cpu_isa_check_env(err, sizeof err)) {
        for (int i = 0; i < ISA_COUNT; i++)
            if (!strcmp(v, names[i])) return chosen = i;
    } else if (v && *v) { // programs check at start-up; a library caller gets the best level
        fprintf(stderr, "chorus: %s; using the best available level\n", err);
    }
    for (int i = ISA_COUNT - 1; i >= 0; i--)
        if (cpu_isa_available(i)) return chosen = i;
    return chosen = ISA_PORTABLE;
}

int cpu_isa_force(CpuIsa isa) {
    if (!cpu_isa_available(isa)) return -1;
    chosen = isa;
    return 0;
}
