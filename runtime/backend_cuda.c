// backend_cuda.c - the Backend (backend.h) over the GPU forward pass: the controller calls the
// same decode() as on the CPU; logits stay on the device and only ids and log-probs come back.
#include "backend.h"
#include "forward_cuda.h"

#include <stdio.h>
#include <string.h>

static int cu_seq_new(void *impl, int parent, int cap, char *err, size_t errlen) {
    return cuda_seq_new(impl, parent, cap, err, errlen);
}
static void cu_seq_free(void *impl, int id) { cuda_seq_free(impl, id); }
static size_t cu_kv_bytes_used(void *impl) { return cuda_kv_bytes_used(impl); }
static size_t cu_kv_token_bytes(void *impl) { return cuda_kv_token_bytes(impl); }

static int cu_decode(void *impl, const int *tokens, const int *seqs, int n, const int *out_rows,
                     int n_out, const SamplerParams *params, const uint64_t *seeds,
                     const uint32_t *chains, const uint32_t *steps, int *ids, float *logprobs,
                     TokenConf *conf, char *err, size_t errlen) {
    CudaForward *f = impl;
    if (cuda_forward(f, tokens, seqs, n, out_rows, n_out, NULL) ||
        cuda_sample(f, n_out, params, seeds, chains, steps, ids, logprobs, conf)) {
        snprintf(err, errlen, "%s", cuda_forward_error(f));
        return -1;
    }
    return 0;
}

static void cu_free(Backend *b) {
    cuda_forward_free(b->impl);
    b->impl = NULL;
}

int backend_cuda_available(void) { return cuda_device_available(); }

int backend_cuda_init(Backend *b, Model *m, int max_rows, int max_seqs, size_t kv_limit_bytes,
                      char *err, size_t errlen) {
    memset(b, 0, sizeof *b);
    CudaForward *f = cuda_forward_init(m, max_rows, max_seqs, kv_limit_bytes, err, errlen);
    if (!f) return -1;
    b->impl = f;
    b->name = "cuda";
    b->max_rows = max_rows;
    b->vocab = m->cfg.vocab_size;
    b->context = m->cfg.context_length;
    b->seq_new = cu_seq_new;
    b->seq_free = cu_seq_free;
    b->decode = cu_decode;
    b->kv_bytes_used = cu_kv_bytes_used;
    b->kv_token_bytes = cu_kv_token_bytes;
    b->free = cu_free;
    return 0;
}
