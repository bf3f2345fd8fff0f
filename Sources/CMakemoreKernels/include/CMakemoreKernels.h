#ifndef CMAKEMORE_KERNELS_H
#define CMAKEMORE_KERNELS_H

/// The Float kernels of the Makemore library (matrix products, exp and tanh over arrays, the
/// element-wise passes of a training step), each compiled once per instruction set of
/// `MakemoreKernelVariant`. Every function takes the variant to run; it must be one that `makemore_kernel_variant_supported` accepts on this CPU.
/// Matrices are row-major; `ld*` is the distance between rows, in floats. `c` must not overlap
/// `a` or `b`. See Kernels.c.

/// The builds of the kernels. Portable: the architecture's baseline (x86-64: SSE2, a multiply
/// and an add for each multiply-add; arm64: NEON, fused). AVX2 and AVX-512 (x86-64 only): fused
/// multiply-adds, the same arithmetic in the same order, so the two give the same bits.
typedef enum __attribute__((enum_extensibility(closed))) MakemoreKernelVariant {
    MakemoreKernelVariantPortable = 0,
    MakemoreKernelVariantAVX2 = 1,
    MakemoreKernelVariantAVX512 = 2,
} MakemoreKernelVariant;

/// 1 if this CPU (and its operating system) can run `variant`, else 0.
int makemore_kernel_variant_supported(MakemoreKernelVariant variant);

/// `c (m,n) = a (m,k) @ b (k,n)`, or `c += a @ b` when `accumulate`; rows of `a` are `k` apart.
void makemore_matmul(MakemoreKernelVariant variant, const float *a, const float *b, float *c,
                     long m, long k, long n, long ldb, long ldc, int accumulate);

/// `c (m,n) = aᵀ @ b`, or `c += aᵀ @ b` when `accumulate`, where `a` is stored `(k,m)`.
void makemore_matmul_transposed_a(MakemoreKernelVariant variant, const float *a, const float *b, float *c,
                                  long m, long k, long n, long lda, long ldb, long ldc, int accumulate);

/// `c (m,n) = a (m,k) @ bᵀ`, or `c += a @ bᵀ` when `accumulate`, where `b` is stored `(n,k)`;
/// rows of `a` are `k` apart.
void makemore_matmul_transposed_b(MakemoreKernelVariant variant, const float *a, const float *b, float *c,
                                  long m, long k, long n, long ldb, long ldc, int accumulate);

/// `out[i] = exp(x[i] - shift)` for `i < count`; returns the sum of the results (summed lane by
/// lane over 16 lanes, then the lanes in order, then the tail in order).
float makemore_exp(MakemoreKernelVariant variant, const float *x, float shift, float *out, long count);

/// `out[i] = tanh(x[i])` for `i < count`.
void makemore_tanh(MakemoreKernelVariant variant, const float *x, float *out, long count);

/// Batch normalisation's training forward over `w` features of a batch `x (n, ·)` whose rows are
/// `stride` apart (every pointer at the first of the features; `mean` and `var` over the batch,
/// `var` with Bessel's correction):
///     inverse_std = 1 / √(var + epsilon)     xhat = (x - mean) · inverse_std     out = gain · xhat + bias
/// and, when `updating_running_statistics`, running = (1 - momentum) · running + momentum · batch.
void makemore_batch_norm_forward(MakemoreKernelVariant variant, const float *x, float *out, float *xhat,
                                 float *inverse_std, const float *gain, const float *bias, float *running_mean,
                                 float *running_variance, long n, long stride, long w, float epsilon,
                                 float momentum, int updating_running_statistics);

/// Its backward, with `a = gain · inverse_std` (kept in `scale`) and sums over the batch:
///     d_gain = Σ d_out · xhat     d_bias = Σ d_out
///     d_x = a · d_out - a/n · Σ d_out - a/(n-1) · xhat · Σ (d_out · xhat)
/// `sum_d_out` and `sum_d_xhat` end holding the two subtracted factors.
void makemore_batch_norm_backward(MakemoreKernelVariant variant, const float *d_out, const float *xhat,
                                  const float *inverse_std, const float *gain, float *d_gain, float *d_bias,
                                  float *sum_d_out, float *sum_d_xhat, float *scale, float *d_x, long n, long stride,
                                  long w);

/// `out[i·stride + j] = bias[j]` for `i < n`, `j < w`: a bias in every row of `out (n, ·)`.
void makemore_broadcast_rows(MakemoreKernelVariant variant, const float *bias, float *out, long n, long stride,
                             long w);

/// `sums[j] = Σi x[i·stride + j]` for `j < w`, summed over the rows `i < n` in order: a bias's gradient.
void makemore_column_sums(MakemoreKernelVariant variant, const float *x, float *sums, long n, long stride, long w);

/// `dx = (1 - h·h) · d` element by element over `n` rows of `w`: tanh's backward from its output `h`.
void makemore_tanh_backward(MakemoreKernelVariant variant, const float *h, const float *d, float *dx, long n,
                            long stride, long w);

/// `p[i] -= learning_rate · dp[i]` for `i < count` (a multiply, then a subtraction).
void makemore_sgd_step(MakemoreKernelVariant variant, float *p, const float *dp, float learning_rate, long count);

/// `total[i] += x[i]` for `i < count`.
void makemore_add(MakemoreKernelVariant variant, float *total, const float *x, long count);

/// `d_table[indices[p]·e + j] += d_out[p·e + j]` for `p < count`, `j < e`, in order of `p`: an
/// embedding's scatter-add of `d_out (count, e)` into the rows of `d_table` the indices name.
void makemore_scatter_add_rows(MakemoreKernelVariant variant, const int *indices, long count, const float *d_out,
                               float *d_table, long e);

/// Softmax cross-entropy of `n` rows of `v` logits (`v` ≥ 1; `logits`, `probs` `(n, v)`, `targets`
/// and `losses` `[n]`, each at its first row): `probs = softmax(logits)` and
/// `losses[i] = log Σ exp(z - max) - (z[targets[i]] - max)`, with `max` the row's maximum and the
/// exponentials from `makemore_exp` over all `n·v` shifted values at once.
void makemore_cross_entropy_forward(MakemoreKernelVariant variant, const float *logits, const int *targets,
                                    float *probs, float *losses, long n, long v);

/// `d_logits (n, v) = (probs - onehot(targets)) · scale` over `n` rows of `v`: `probs · scale`, then
/// `scale` subtracted at each row's target.
void makemore_cross_entropy_backward(MakemoreKernelVariant variant, const float *probs, const int *targets,
                                     float *d_logits, long n, long v, float scale);

/// One AdamW step's scalars (`AdamW.update` in Models/Optimizer.swift computes them in Double and
/// rounds them to Float): `decay = 1 - lr·weight_decay` (applied when `decays`),
/// `first_weight = 1 - β1`, `beta2 = β2`, `second_weight = 1 - β2`,
/// `negative_step_size = -lr / (1 - β1^t)`, `correction2_root = √(1 - β2^t)`, `epsilon`.
typedef struct MakemoreAdamWStep {
    float decay, first_weight, beta2, second_weight, negative_step_size, correction2_root, epsilon;
    int decays;
} MakemoreAdamWStep;

/// AdamW's element update for `i < count`, with `p = values[i]`, `g = gradients[i]`:
///     p = p · decay                                          (when `decays`)
///     m = fma(first_weight, g - m, m)                        (one rounding)
///     v = fma(second_weight · g, g, beta2 · v)               (one rounding, after the two products)
///     p = p + negative_step_size · m / (√v / correction2_root + epsilon)
/// every other operation rounded on its own, in this order; the same bits in every variant.
void makemore_adamw_update(MakemoreKernelVariant variant, float *values, const float *gradients, float *m, float *v,
                          long count, const MakemoreAdamWStep *step);

/// Causal self-attention's forward over one word of `n` positions, `heads` heads of `head_size`
/// features (`C = heads · head_size`): from `qkv (n, 3C)` (each row q, k, v side by side), for each
/// head and position `t`,
///     att[h, t, u] = softmax over u ≤ t of q_t · k_u / √head_size      (0 for u > t)
///     y[t, h·head_size ..< (h+1)·head_size] = Σ_{u ≤ t} att[h, t, u] · v_u
/// into `att (heads, n, n)` and `y (n, C)`. Dot products are summed in eight lanes, the softmax
/// subtracts the maximum and exponentiates with `expf`.
void makemore_attention_forward(MakemoreKernelVariant variant, const float *qkv, float *att, float *y, long n,
                                long heads, long head_size);

/// Its backward: adds into `d_qkv (n, 3C)`, for each head and position `t` in order,
///     datt[u] = dy_t · v_u,   dv_u += att[t, u] · dy_t                        (u ≤ t in order)
///     dscore  = att[t, u] · (datt[u] - Σ_w att[t, w] · datt[w]) / √head_size
///     dq_t   += dscore · k_u,   dk_u += dscore · q_t                          (u ≤ t in order)
/// `d_y (n, C)`; `d_att` is scratch of `n` floats.
void makemore_attention_backward(MakemoreKernelVariant variant, const float *qkv, const float *att, const float *d_y,
                                 float *d_qkv, float *d_att, long n, long heads, long head_size);

/// Layer normalisation of `rows` rows of `x (rows, c)` into `out (rows, c)`, each row by its own
///     mean = Σ x / c     rstd = 1 / √(Σ (x - mean)² / c + epsilon)     out = weight · ((x - mean) · rstd) + bias
/// (sums in eight lanes); writes `mean [rows]` and `rstd [rows]`.
void makemore_layer_norm_forward(MakemoreKernelVariant variant, const float *x, float *out, float *mean, float *rstd,
                                 const float *weight, const float *bias, long rows, long c, float epsilon);

/// Its input gradient, added into `d_x (rows, c)`: with `xhat = (x - mean) · rstd` and
/// `dxhat = d_out · weight`, `d_x += rstd · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat))`.
void makemore_layer_norm_input_gradient(MakemoreKernelVariant variant, const float *x, const float *mean,
                                        const float *rstd, const float *weight, const float *d_out, float *d_x,
                                        long rows, long c);

/// GELU (tanh approximation) for `i < count`: `t[i] = tanh u`, `u = √(2/π) (x + 0.044715 x³)`,
/// then `out[i] = ½ x (1 + t[i])`; `t` may be `out` (out wins).
void makemore_gelu_forward(MakemoreKernelVariant variant, const float *x, float *out, float *t, long count);

/// Its backward from `t = tanh u`: `d = d_out · (½ (1 + t) + ½ x (1 - t²) · √(2/π) (1 + 3·0.044715 x²))`,
/// `d_x = d` (or `d_x += d` when `accumulate`).
void makemore_gelu_backward(MakemoreKernelVariant variant, const float *x, const float *t, const float *d_out,
                            float *d_x, long count, int accumulate);

#endif
