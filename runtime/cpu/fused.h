// fused.h - the CPU twins of the CUDA kernels that fuse several CPU operations into one launch.
// Each is the composition of the CPU pieces (ops.h) in the order the kernel applies them, with
// the kernel's signature less the stream and host pointers where it has device ones: the
// reference a test or a kernel-lab program (kernels/dev/) finds by the kernel's name less
// _cuda. The CPU forward pass does not call them (it keeps q, k and v apart, its cache fp32 or
// fp16, and computes the rope angles once per step for every layer).
#pragma once
#include "kernel_types.h" // RowKV, RopeParams

// The twin of rope_qkv_store_cuda (kernels.h). Row i of qkv holds [q | k | v]: adds rp->bias
// (add_bias), norms every head of q and k (rmsnorm with rp->q_norm, rp->k_norm), rotates them by
// rows[i].pos (rope_table, rope_apply), writes q back in place and stores k and v as bf16
// (f32_to_bf16) at rows[i].k/v + (layer * cap + slot) * kv_dim. qkv's k and v columns are left
// as they were, as on the GPU.        qkv: [n, n_heads*head_dim + 2*kv_dim] f32; rows: [n]
// Returns 0, or -1 if scratch memory could not be had.
int rope_qkv_store(float *qkv, const RowKV *rows, int n, int layer, int n_heads, int n_kv_heads,
                   int head_dim, const RopeParams *rp);
