// backend.c - choosing the backend for a device, and the options and descriptions only one
// backend has (backend.h).
#include "backend/backend.h"
#include "cpu/forward.h"
#include "cpu/isa.h"
#include "cpu/limits.h"

#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

// Whether the device asked for can be had: 0, or -1 + err (NULL asks for none in particular).
static int check_device(const char *device, char *err, size_t errlen) {
    if (!device || strcmp(device, "cuda")) return 0;
#ifdef CHORUS_CUDA
    if (!backend_cuda_available())
        return snprintf(err, errlen, "--device cuda: no CUDA device found"), -1;
    return 0;
#else
    return snprintf(err, errlen,
                    "--device cuda: this chorus was built without CUDA "
                    "(build it with `make cuda`)"),
           -1;
#endif
}

// The CPU's numerics named by `name` (NULL: int8) into *nm: 0, or -1 + err.
static int parse_numerics(const char *name, Numerics *nm, char *err, size_t errlen) {
    *nm = NUMERICS_INT8;
    if (name && numerics_parse(name, nm))
        return snprintf(err, errlen, "--numerics: '%s' is not int8 or f32", name), -1;
    return 0;
}

int backend_check_options(const BackendOptions *o, char *err, size_t errlen) {
    Numerics nm;
    if (parse_numerics(o->numerics, &nm, err, errlen)) return -1;
    return check_device(o->device, err, errlen);
}

int backend_open(Backend *b, Model *m, const BackendOptions *o, char *err, size_t errlen) {
    if (check_device(o->device, err, errlen)) return -1;
#ifdef CHORUS_CUDA
    if (!o->device || !strcmp(o->device, "cuda")) {
        if (backend_cuda_available() && o->numerics)
            return snprintf(err, errlen,
                            "--numerics: only the CPU backend has a choice of "
                            "numerics (add --device cpu)"),
                   -1;
        if (backend_cuda_available())
            return backend_cuda_init(b, m, o->max_rows, o->max_seqs, o->kv_limit_bytes, err,
                                     errlen);
        fprintf(stderr, "chorus: no CUDA device found; running on the CPU\n");
    }
#endif
    Numerics nm;
    if (parse_numerics(o->numerics, &nm, err, errlen)) return -1;
    if (backend_cpu_init(b, m, o->max_rows, o->max_seqs, o->kv_limit_bytes, err, errlen)) return -1;
    return backend_cpu_set_numerics(b, nm, err, errlen); // repacks now, not in the first step
}

int backend_check_env(char *err, size_t errlen) {
    return cpu_isa_check_env(err, (int)errlen);
}

MachineLimits backend_machine_limits(void) {
    MachineLimits l = {.threads = 1};
#ifdef _OPENMP
    l.threads = omp_get_max_threads();
#endif
    const CpuIsa isa = cpu_isa();
    l.kernel = cpu_isa_name(isa);
    l.stream_gb_s = cpu_stream_read_gbps(l.threads);
    l.int8_peak_gmacs = cpu_int8_peak_gmacs(isa, l.threads);
    return l;
}
