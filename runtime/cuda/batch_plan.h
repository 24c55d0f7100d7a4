// batch_plan.h - one step of the CUDA forward pass planned on the host: which K/V slot each
// row writes, which rows attend together (items), how keys are split across blocks, and where
// each piece of metadata sits in the one buffer uploaded per step.
//
// Plain C with no CUDA call, so it is built into the CPU library too and tested there
// (tests/test_batch_plan.c runs the attention over a plan in double precision and checks it
// against attention computed directly from the sequences).
//
// Fixed grids. The attention launches have grids that depend only on the row count n:
// (n items at most, kv heads, batch_max_splits(n) splits). The counts a step really uses go
// in the AttnPlan inside the metadata, which the kernels read; so a CUDA graph captured for n
// rows serves every later step of n rows, whatever the sequences' lengths.
#pragma once
#include "kernel_types.h"
#include "model/kvcache.h"
#include "model/model.h"

#include <stddef.h>

// The metadata of a step: the same layout in pinned host memory (written here) and in device
// memory (read by the kernels), so one copy moves it.
typedef struct {
    int *tokens;       // [max_rows] token of each row
    int *out_rows;     // [max_rows] rows whose logits are wanted (the first n_out)
    int *lim_own;      // [max_rows] own keys each row sees (its slot + 1)
    int *lim_pre;      // [max_rows] prefix keys each row sees (0: no prefix)
    int *idx_own;      // [max_rows] rows grouped by own sequence (items index into it)
    int *idx_pre;      // [max_rows] rows with a prefix, grouped by parent
    RowKV *rows;       // [max_rows] where each row's K/V go, and its position
    AttnItem *it_own;  // [max_rows] items over the rows' own sequences
    AttnItem *it_pre;  // [max_rows] items over prefixes
    AttnPlan *plan;    // [1] the two launches' counts and splits
    SampleRow *sample; // [max_rows] sampling settings of the output rows (the caller fills it)
    int *ids;          // [max_rows] sampled tokens (the device writes them)
    float *logprobs;   // [max_rows] their log-probs
    TokenConf *conf;   // [max_rows] their token confidence and entropy
} BatchMeta;

// Lays BatchMeta out over base (NULL: only sizes it; every piece 16-byte aligned). Returns the
// total bytes; *upload gets the bytes from the start through `sample` (what the host writes).
size_t batch_meta_layout(BatchMeta *m, char *base, int max_rows, size_t *upload);

typedef struct {
    int max_rows, max_seqs, n_kv_heads, group, vocab, n_sms;
    int part_rows; // capacity of the partial buffers in (part, row) pairs
    int *added;    // [max_seqs] rows each sequence gets in the planned step
    int *own_key;  // [max_rows] scratch: each row's own sequence
    int *pre_key;  // [max_rows] scratch: each row's prefix sequence, or -1
    int *count;    // [max_seqs] scratch of the counting sort
} BatchPlanner;

// n_sms: the device's multiprocessors (the split heuristic aims at 2 blocks per SM).
int batch_planner_init(BatchPlanner *p, const Config *c, int max_rows, int max_seqs, int n_sms);
void batch_planner_free(BatchPlanner *p);
// Key splits per attention launch for a step of n rows (a function of n only: the grid's z).
int batch_max_splits(const BatchPlanner *p, int n);
// Plans a step of n rows (row i appends tokens[i] to sequence seqs[i]; rows of one sequence in
// order) that keeps the logits of out_rows[0..n_out): validates every row (live sequence,
// token id, room left) and writes the metadata into m (host staging). seq_k, seq_v: each
// sequence id's device K and V storage, [n_layers, cap, kv_dim] bf16. Nothing in kv changes.
// 0, or -1 + a one-line message.
int batch_plan(BatchPlanner *p, BatchMeta *m, const KVCache *kv, uint16_t *const *seq_k,
               uint16_t *const *seq_v, const int *tokens, const int *seqs, int n,
               const int *out_rows, int n_out, char *err, size_t errlen);
// After the planned step has run without fault: its rows' K/V are stored, lengths advance.
void batch_commit(BatchPlanner *p, KVCache *kv);
