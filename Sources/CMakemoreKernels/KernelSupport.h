// What the variant files (Kernels*.c) share with the dispatch (Dispatch.c). Not public.
#ifndef CMAKEMORE_KERNEL_SUPPORT_H
#define CMAKEMORE_KERNEL_SUPPORT_H

#include "CMakemoreKernels.h"

#include <math.h>
#include <string.h>

/// One variant's kernels, with the signatures of the public functions less the variant.
typedef struct KernelTable {
    void (*matmul)(const float *a, const float *b, float *c, long m, long k, long n, long ldb, long ldc, int accumulate);
    void (*matmul_transposed_a)(const float *a, const float *b, float *c, long m, long k, long n,
                                long lda, long ldb, long ldc, int accumulate);
    void (*matmul_transposed_b)(const float *a, const float *b, float *c, long m, long k, long n,
                                long ldb, long ldc, int accumulate);
    float (*exp)(const float *x, float shift, float *out, long count);
    void (*tanh)(const float *x, float *out, long count);
    void (*batch_norm_forward)(const float *x, float *out, float *xhat, float *inverse_std, const float *gain,
                               const float *bias, float *running_mean, float *running_variance, long n, long stride,
                               long w, float epsilon, float momentum, int updating_running_statistics);
    void (*batch_norm_backward)(const float *d_out, const float *xhat, const float *inverse_std, const float *gain,
                                float *d_gain, float *d_bias, float *sum_d_out, float *sum_d_xhat, float *scale,
                                float *d_x, long n, long stride, long w);
    void (*broadcast_rows)(const float *bias, float *out, long n, long stride, long w);
    void (*column_sums)(const float *x, float *sums, long n, long stride, long w);
    void (*tanh_backward)(const float *h, const float *d, float *dx, long n, long stride, long w);
    void (*sgd_step)(float *p, const float *dp, float learning_rate, long count);
    void (*add)(float *total, const float *x, long count);
    void (*scatter_add_rows)(const int *indices, long count, const float *d_out, float *d_table, long e);
    void (*cross_entropy_forward)(const float *logits, const int *targets, float *probs, float *losses, long n,
                                  long v);
    void (*cross_entropy_backward)(const float *probs, const int *targets, float *d_logits, long n, long v,
                                   float scale);
    void (*adamw_update)(float *values, const float *gradients, float *m, float *v, long count,
                         const MakemoreAdamWStep *step);
    void (*attention_forward)(const float *qkv, float *att, float *y, long n, long heads, long head_size);
    void (*attention_backward)(const float *qkv, const float *att, const float *d_y, float *d_qkv, float *d_att,
                               long n, long heads, long head_size);
    void (*layer_norm_forward)(const float *x, float *out, float *mean, float *rstd, const float *weight,
                               const float *bias, long rows, long c, float epsilon);
    void (*layer_norm_input_gradient)(const float *x, const float *mean, const float *rstd, const float *weight,
                                      const float *d_out, float *d_x, long rows, long c);
    void (*gelu_forward)(const float *x, float *out, float *t, long count);
    void (*gelu_backward)(const float *x, const float *t, const float *d_out, float *d_x, long count, int accumulate);
} KernelTable;

extern const KernelTable makemore_kernels_portable;
#if defined(__x86_64__)
extern const KernelTable makemore_kernels_avx2;
extern const KernelTable makemore_kernels_avx512;
#endif

/// At least `count` floats of this thread's scratch memory, 64-byte aligned, valid until the
/// thread's next call; kept for the thread's life, so that after the first call at a size a
/// thread's products allocate nothing.
float *makemore_scratch(long count);

/// 8 and 16 lanes of `float`, and 16 of their bit patterns.
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
typedef unsigned v16u __attribute__((vector_size(64)));

#endif
