// cpu/isa.h - which instruction set the CPU's int8 kernels run on, chosen once at run time.
//
// The int8 kernels (qgemm_kernels.c) are compiled once per level into the same binary; the
// level is the best one that both the CPU (cpuid) and the build (the compiler's flags) have, or
// the one named by the environment variable CHORUS_ISA. Every level computes bit-identical
// results (qgemm.h), so the level changes speed, never output.
#pragma once

typedef enum {
    ISA_PORTABLE = 0, // plain C
    ISA_AVX2,         // AVX2 + FMA + F16C: vpmaddubsw / vpmaddwd for the int8 dot products
    ISA_AVXVNNI,      // + AVX-VNNI: vpdpbusd on 8 lanes (ymm)
    ISA_AVX512VNNI,   // AVX-512 F/BW/VL + VNNI: vpdpbusd on 16 lanes (zmm)
    ISA_COUNT
} CpuIsa;

// The level in use: CHORUS_ISA if set (portable | avx2 | avxvnni | avx512vnni), else the best
// available. Decided on the first call.
CpuIsa cpu_isa(void);
// Whether a level can run here: compiled into this binary and supported by this CPU.
int cpu_isa_available(CpuIsa isa);
const char *cpu_isa_name(CpuIsa isa);
// Checks CHORUS_ISA: 0, or -1 with a one-line message naming the variable and the problem (an
// unknown name, or a level this CPU or build lacks). Programs call it at start-up.
int cpu_isa_check_env(char *err, int errlen);
// Forces a level (tests run every available one); 0, or -1 if it is not available.
int cpu_isa_force(CpuIsa isa);
// Whether this CPU runs AVX-512 BF16 (vdpbf16ps).
int cpu_has_avx512bf16(void);

// The int8 kernels of a level (cpu/qgemm.h's QKernels), or NULL if this build has none for it:
// each level's table comes from its own compile of cpu/qgemm_kernels.c (the Makefile's
// QGEMM_LEVELS), NULL where the compiler lacks the level's flags.
struct QKernels;
const struct QKernels *qgemm_kernels_for(CpuIsa isa);
