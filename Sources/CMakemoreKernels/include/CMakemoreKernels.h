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

#endif
