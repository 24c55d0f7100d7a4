// backend.c - choosing the backend for a device (backend.h).
#include "backend/backend.h"
#include "cpu/forward.h"

#include <stdio.h>
#include <string.h>

int backend_open(Backend *b, Model *m, const char *device, const char *numerics, int max_rows,
                 int max_seqs, size_t kv_limit_bytes, char *err, size_t errlen) {
    int want_cuda = device && !strcmp(device, "cuda");
#ifdef CHORUS_CUDA
    if (!device || want_cuda) {
        if (backend_cuda_available() && numerics)
            return snprintf(err, errlen,
                            "--numerics: only the CPU backend has a choice of "
                            "numerics (add --device cpu)"),
                   -1;
        if (backend_cuda_available())
            return backend_cuda_init(b, m, max_rows, max_seqs, kv_limit_bytes, err, errlen);
        if (want_cuda) return snprintf(err, errlen, "--device cuda: no CUDA device found"), -1;
        fprintf(stderr, "chorus: no CUDA device found; running on the CPU\n");
    }
#else
    if (want_cuda)
        return snprintf(err, errlen,
                        "--device cuda: this chorus was built without CUDA "
                        "(build it with `make cuda`)"),
               -1;
#endif
    Numerics nm = NUMERICS_INT8;
    if (numerics && numerics_parse(numerics, &nm))
        return snprintf(err, errlen, "--numerics: '%s' is not int8 or f32", numerics), -1;
    if (backend_cpu_init(b, m, max_rows, max_seqs, kv_limit_bytes, err, errlen)) return -1;
    return backend_cpu_set_numerics(b, nm, err, errlen); // repacks now, not in the first step
}
