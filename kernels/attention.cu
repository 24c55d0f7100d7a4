// attention.cu - causal grouped-query attention over a shared prefix plus each row's own
// tokens, as partial softmax results merged with log-sum-exp (flash-decoding / cascade).
//
// What it computes. Row i (a query at absolute position pos_i) sees two *sources* of keys:
// its parent prefix (the first n_prefix tokens of the prompt's sequence) and its own sequence
// (tokens 0..slot_i, itself included). For each source and each query head the partial result
// over a key range R is
//     m = max_{t in R} s_t,  l = sum_{t in R} exp(s_t - m),  o = sum_{t in R} exp(s_t - m) v_t
// with s_t = q . k_t / sqrt(hd). attention_merge combines any number of partials:
//     M = max m_p, out = sum_p e^(m_p - M) o_p / sum_p e^(m_p - M) l_p.
// This is exact (up to rounding) whatever the split, which is what lets us
//   * compute the prefix part for ALL chains of one prefix in the same block, so each prefix
//     K/V tile is read from memory once per step instead of once per chain (Hydragen/cascade);
//   * split a long key range across blocks (grid z) so a single prefix still fills the GPU.
// Prefill is the same kernel: the prompt's rows are the items' rows, the source is the
// prompt's own sequence, and the per-row limit lim[i] = slot_i + 1 makes it causal.
//
// Layout. q: row i's heads at q + i*q_stride, [n_heads, hd] f32 (rotated; q_stride lets the
// kernel read q straight out of the fused qkv rows). K/V of a source: [n_layers, cap, kv_dim]
// bf16, a key row t of kv head h at ((layer*cap + t)*kv_dim + h*hd). Partials: part_o
// [n_parts, n, n_heads, hd] f32, part_ml [n_parts, n, n_heads, 2] f32.
//
// Launch shape. grid = (max items, kv heads, max splits), 256 threads = 8 warps. The counts
// that change from step to step (items, splits, split length) are read from device memory
// (AttnSplit): a captured CUDA graph keeps its grid, and the blocks past this step's counts
// return at once. A block handles one (item, kv head, key split): it stages the item's query
// vectors (rows x query heads sharing this kv head; <= 128) in shared memory, then walks its
// key range in tiles of 32 keys. Each tile of K and V is converted to f32 in shared memory
// once and used by every query vector. Warp w owns query vectors w, w+8, w+16, ...: lane t
// scores key t of the tile against a query (q broadcast from shared memory, K rows padded by
// one float so the 32 lanes hit 32 different banks), the warp updates that query's running
// (m, l), and each lane accumulates hd/32 output dimensions. The kernel is compiled once per
// head size (ND = hd/32): o stays in registers with compile-time indices, and only the
// accumulators the head size needs are allocated (registers per thread bound the blocks an
// SM holds).
//
// NaN. A NaN score or value makes l (or o) NaN, and the merge passes it on: only l == 0 marks
// an empty partial. A NaN in attention is a fault upstream; hiding it would turn it into
// plausible-looking output.
#include "common.cuh"
#include "kernels.h"

#define ATT_WARPS 8
#define ATT_TILE  32
#define ATT_VPW   (ATTN_MAX_QVECS / ATT_WARPS) // query vectors per warp

// Shared memory of a block with nq query vectors of n_rows rows.
static size_t partial_smem(int nq, int n_rows, int hd) {
    return sizeof(float) * ((size_t)nq * hd + ATT_TILE * (hd + 1) + ATT_TILE * hd) +
           sizeof(int) * (size_t)n_rows;
}

// Blocks per SM the register budget must allow: 2 (<= 128 registers a thread) holds every
// head size without spills; hd 32 fits 3 (<= 80) without spills too.
template <int ND>
__global__ void __launch_bounds__(ATT_WARPS * 32, ND == 1 ? 3 : 2)
    attention_partial_kernel(float *part_o, float *part_ml, const AttnSplit *split, const float *q,
                             int q_stride, const AttnItem *items, const int *row_idx,
                             const int *lim, int n, int layer, int n_heads, int n_kv_heads) {
    constexpr int hd = ND * 32;
    const AttnSplit sp = *split;
    if ((int)blockIdx.x >= sp.n_items || (int)blockIdx.z >= sp.n_splits) return; // block-uniform
    extern __shared__ float smem[];
    const AttnItem it = items[blockIdx.x];
    const int kvh = blockIdx.y, z = blockIdx.z, group = n_heads / n_kv_heads;
    const int nq = it.n_rows * group, kv_dim = n_kv_heads * hd;
    if (nq > ATTN_MAX_QVECS || nq <= 0) return; // the host never builds such an item
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float *qs = smem;                        // [nq, hd] queries, pre-scaled by 1/sqrt(hd)
    float *ks = qs + (size_t)nq * hd;        // [ATT_TILE, hd + 1] key tile (padded rows)
    float *vs = ks + ATT_TILE * (hd + 1);    // [ATT_TILE, hd] value tile
    int *lims = (int *)(vs + ATT_TILE * hd); // [n_rows] keys of this source each row sees

    const float scale = rsqrtf((float)hd);
    for (int e = threadIdx.x; e < nq * hd; e += blockDim.x) {
        int v = e / hd, d = e - v * hd, r = v / group, head = kvh * group + v % group;
        int row = row_idx[it.row0 + r];
        qs[e] = q[(size_t)row * q_stride + head * hd + d] * scale;
    }
    for (int r = threadIdx.x; r < it.n_rows; r += blockDim.x) lims[r] = lim[row_idx[it.row0 + r]];

    const int k_begin = z * sp.split_len;
    const int k_end = min(it.n_keys, k_begin + sp.split_len);
    float m[ATT_VPW], l[ATT_VPW], o[ATT_VPW][ND];
#pragma unroll
    for (int vi = 0; vi < ATT_VPW; vi++) {
        m[vi] = -INFINITY;
        l[vi] = 0.0f;
#pragma unroll
        for (int i = 0; i < ND; i++) o[vi][i] = 0.0f;
    }
    const uint16_t *kbase = it.k + (size_t)layer * it.cap * kv_dim + kvh * hd;
    const uint16_t *vbase = it.v + (size_t)layer * it.cap * kv_dim + kvh * hd;
    __syncthreads(); // queries and limits staged

    for (int t0 = k_begin; t0 < k_end; t0 += ATT_TILE) {
        const int nt = min(ATT_TILE, k_end - t0);
        // Stage the tile: consecutive threads read consecutive elements of a key row.
        for (int e = threadIdx.x; e < ATT_TILE * hd; e += blockDim.x) {
            int t = e / hd, d = e - t * hd;
            float kv = 0.0f, vv = 0.0f;
            if (t < nt) {
                size_t src = (size_t)(t0 + t) * kv_dim + d;
                kv = bf16_bits_to_f32(kbase[src]);
                vv = bf16_bits_to_f32(vbase[src]);
            }
            ks[t * (hd + 1) + d] = kv;
            vs[t * hd + d] = vv;
        }
        __syncthreads(); // tile visible to every warp

#pragma unroll
        for (int vi = 0; vi < ATT_VPW; vi++) {
            const int qv = warp + vi * ATT_WARPS;
            if (qv >= nq) continue; // warp-uniform
            const int key = t0 + lane;
            const bool valid = lane < nt && key < lims[qv / group];
            float sc = -INFINITY;
            if (valid) {
                const float *qq = qs + (size_t)qv * hd, *kk = ks + lane * (hd + 1);
                float acc = 0.0f;
#pragma unroll 8
                for (int d = 0; d < hd; d++) acc += qq[d] * kk[d];
                sc = acc;
            }
            // A NaN score must reach l: fmaxf would drop it, so it is carried separately.
            const bool any_nan = __any_sync(0xffffffffu, sc != sc);
            const float tmax = any_nan ? NAN : warp_max(sc);
            if (tmax == -INFINITY) continue; // no visible key in this tile (warp-uniform)
            const float m_new = fmaxf(m[vi], tmax) + (any_nan ? NAN : 0.0f);
            const float corr = expf(m[vi] - m_new); // 0 on the first visible tile
            const float p = valid ? expf(sc - m_new) : 0.0f;
            l[vi] = l[vi] * corr + warp_sum(p);
#pragma unroll
            for (int i = 0; i < ND; i++) o[vi][i] *= corr;
            for (int t = 0; t < nt; t++) {
                const float pt = __shfl_sync(0xffffffffu, p, t);
#pragma unroll
                for (int i = 0; i < ND; i++) o[vi][i] += pt * vs[t * hd + i * 32 + lane];
            }
            m[vi] = m_new;
        }
        __syncthreads(); // every warp done with the tile before it is overwritten
    }

    // Write this split's partials (empty ones too: l = 0 tells the merge to skip them).
#pragma unroll
    for (int vi = 0; vi < ATT_VPW; vi++) {
        const int qv = warp + vi * ATT_WARPS;
        if (qv >= nq) continue;
        const int row = row_idx[it.row0 + qv / group], head = kvh * group + qv % group;
        const size_t base = ((size_t)(sp.part0 + z) * n + row) * n_heads + head;
#pragma unroll
        for (int i = 0; i < ND; i++) part_o[base * hd + i * 32 + lane] = o[vi][i];
        if (lane == 0) {
            part_ml[base * 2] = m[vi];
            part_ml[base * 2 + 1] = l[vi];
        }
    }
}

// One warp per (row, head): log-sum-exp merge of the row's partials. Parts of source s are
// [plan.src[s].part0, + plan.src[s].n_splits); a row reads the prefix parts only if it has a
// prefix (lim_pre[row] > 0, or lim_pre NULL). l == 0 marks an empty partial; a NaN l is not
// empty and makes the output NaN.
template <int ND>
__global__ void attention_merge_kernel(uint16_t *out, const float *part_o, const float *part_ml,
                                       const AttnPlan *plan, const int *lim_pre, int n,
                                       int n_heads) {
    constexpr int hd = ND * 32;
    const int lane = threadIdx.x & 31;
    const int w = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); // = row * n_heads + head
    if (w >= n * n_heads) return;
    const int row = w / n_heads;
    const AttnPlan pl = *plan;
    const size_t stride = (size_t)n * n_heads; // between parts
    const int s0 = lim_pre && lim_pre[row] <= 0 ? 1 : 0;
    float M = -INFINITY;
    bool nan = false;
    for (int s = s0; s < 2; s++)
        for (int z = 0; z < pl.src[s].n_splits; z++) {
            const float *ml = part_ml + ((pl.src[s].part0 + z) * stride + w) * 2;
            if (ml[1] == 0.0f) continue; // empty
            nan |= ml[0] != ml[0] || ml[1] != ml[1];
            M = fmaxf(M, ml[0]);
        }
    float L = nan ? NAN : 0.0f, acc[ND];
#pragma unroll
    for (int i = 0; i < ND; i++) acc[i] = L;
    for (int s = s0; s < 2 && !nan; s++)
        for (int z = 0; z < pl.src[s].n_splits; z++) {
            const size_t p = (pl.src[s].part0 + z) * stride + w;
            const float *ml = part_ml + p * 2;
            if (ml[1] == 0.0f) continue;
            const float a = expf(ml[0] - M);
            L += a * ml[1];
            const float *op = part_o + p * hd;
#pragma unroll
            for (int i = 0; i < ND; i++) acc[i] += a * op[i * 32 + lane];
        }
    const float inv = L == 0.0f ? 0.0f : 1.0f / L; // a row with no key at all gets zeros
#pragma unroll
    for (int i = 0; i < ND; i++)
        out[(size_t)w * hd + i * 32 + lane] = f32_to_bf16_bits(acc[i] * inv);
}

// ---- launchers ---------------------------------------------------------------------------

typedef void (*PartialFn)(float *, float *, const AttnSplit *, const float *, int, const AttnItem *,
                          const int *, const int *, int, int, int, int);

static PartialFn partial_fn(int head_dim) {
    switch (head_dim) {
    case 32: return attention_partial_kernel<1>;
    case 64: return attention_partial_kernel<2>;
    case 96: return attention_partial_kernel<3>;
    case 128: return attention_partial_kernel<4>;
    default: return NULL;
    }
}

// Shared memory a launch needs: sized for the largest item allowed (the item sizes live on
// the device; the host builds items with n_rows * group <= ATTN_MAX_QVECS).
static size_t launch_smem(int n_heads, int n_kv_heads, int head_dim) {
    const int group = n_heads / n_kv_heads, max_rows = ATTN_MAX_QVECS / group;
    return partial_smem(max_rows * group, max_rows, head_dim);
}

// The dynamic shared memory each kernel variant was opened up to (past the 48 KB default).
static size_t smem_allowed[5];

extern "C" cudaError_t attention_prepare_cuda(int n_heads, int n_kv_heads, int head_dim) {
    PartialFn fn = partial_fn(head_dim);
    if (!fn || n_heads <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads ||
        n_heads / n_kv_heads > ATTN_MAX_QVECS)
        return cudaErrorInvalidValue;
    const size_t smem = launch_smem(n_heads, n_kv_heads, head_dim);
    const int nd = head_dim / 32;
    if (smem <= 48 * 1024 || smem <= smem_allowed[nd]) return cudaSuccess;
    cudaError_t e = cudaFuncSetAttribute((const void *)fn,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e == cudaSuccess) smem_allowed[nd] = smem;
    return e;
}

extern "C" cudaError_t attention_partial_cuda(float *part_o, float *part_ml, const AttnSplit *split,
                                              int max_items, int max_splits, const float *q,
                                              int q_stride, const AttnItem *items,
                                              const int *row_idx, const int *lim, int n, int layer,
                                              int n_heads, int n_kv_heads, int head_dim,
                                              cudaStream_t s) {
    PartialFn fn = partial_fn(head_dim);
    if (!fn || max_items < 0 || n < 0 || max_splits < 0 || n_heads <= 0 || n_kv_heads <= 0 ||
        n_heads % n_kv_heads || n_heads / n_kv_heads > ATTN_MAX_QVECS ||
        q_stride < n_heads * head_dim || n_kv_heads > 65535 || max_splits > 65535 || layer < 0)
        return cudaErrorInvalidValue;
    if (max_items == 0 || max_splits == 0 || n == 0) return cudaSuccess;
    cudaError_t e = attention_prepare_cuda(n_heads, n_kv_heads, head_dim); // no-op once done
    if (e != cudaSuccess) return e;
    dim3 grid((unsigned)max_items, (unsigned)n_kv_heads, (unsigned)max_splits);
    fn<<<grid, ATT_WARPS * 32, launch_smem(n_heads, n_kv_heads, head_dim), s>>>(
        part_o, part_ml, split, q, q_stride, items, row_idx, lim, n, layer, n_heads, n_kv_heads);
    LAUNCH_CHECK();
}

extern "C" cudaError_t attention_merge_cuda(uint16_t *out, const float *part_o,
                                            const float *part_ml, const AttnPlan *plan,
                                            const int *lim_pre, int n, int n_heads, int head_dim,
                                            cudaStream_t s) {
    if (n < 0 || n_heads <= 0 || !partial_fn(head_dim)) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    const int warps = n * n_heads, per_block = 8, blocks = (warps + per_block - 1) / per_block;
    switch (head_dim / 32) {
    case 1:
        attention_merge_kernel<1>
            <<<blocks, per_block * 32, 0, s>>>(out, part_o, part_ml, plan, lim_pre, n, n_heads);
        break;
    case 2:
        attention_merge_kernel<2>
            <<<blocks, per_block * 32, 0, s>>>(out, part_o, part_ml, plan, lim_pre, n, n_heads);
        break;
    case 3:
        attention_merge_kernel<3>
            <<<blocks, per_block * 32, 0, s>>>(out, part_o, part_ml, plan, lim_pre, n, n_heads);
        break;
    default:
        attention_merge_kernel<4>
            <<<blocks, per_block * 32, 0, s>>>(out, part_o, part_ml, plan, lim_pre, n, n_heads);
        break;
    }
    LAUNCH_CHECK();
}
