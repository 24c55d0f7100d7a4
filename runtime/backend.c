// backend.c - choosing the backend for a device (backend.h).
#include "backend.h"

#include <stdio.h>
#include <string.h>

int backend_open(Backend *b, Model *m, const char *device, int max_rows, int max_seqs,
                 size_t kv_limit_bytes, char *err, size_t errlen) {
    int want_cuda = device && !strcmp(device, "cuda");
#ifdef CHORUS_CUDA
    if (!device || want_cuda) {
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
    return backend_cpu_init(b, m, max_rows, max_seqs, kv_limit_bytes, err, errlen);
}
