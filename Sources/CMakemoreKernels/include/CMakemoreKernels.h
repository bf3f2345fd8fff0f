#ifndef CMAKEMORE_KERNELS_H
#define CMAKEMORE_KERNELS_H

/// The Float kernels of the Makemore library (matrix products, exp and tanh over arrays), each
/// compiled once per instruction set of `MakemoreKernelVariant`. Every function takes the variant
/// to run; it must be one that `makemore_kernel_variant_supported` accepts on this CPU.
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

#endif
