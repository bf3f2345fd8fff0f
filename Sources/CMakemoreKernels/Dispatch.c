// The public entry points (include/CMakemoreKernels.h): each runs the given variant's build.
//
// Why C: the kernels are built for several instruction sets inside one binary and picked at run
// time. Clang gives each function its own target (`#pragma clang attribute` with
// `__attribute__((target(...)))`, see Kernels*.c) and tells what the CPU supports
// (`__builtin_cpu_supports`); Swift has neither, only one target for a whole module, set by
// `-target-cpu`, an unsafe flag that packages depending on this one by version may not use.

#include "CMakemoreKernels.h"
#include "KernelSupport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

int makemore_kernel_variant_supported(MakemoreKernelVariant variant) {
    switch (variant) {
    case MakemoreKernelVariantPortable:
        return 1;
#if defined(__x86_64__)
    case MakemoreKernelVariantAVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case MakemoreKernelVariantAVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

/// The kernels of `variant` (the portable ones where the architecture has no such variant).
static const KernelTable *table(MakemoreKernelVariant variant) {
#if defined(__x86_64__)
    if (variant == MakemoreKernelVariantAVX512) return &makemore_kernels_avx512;
    if (variant == MakemoreKernelVariantAVX2) return &makemore_kernels_avx2;
#endif
    (void)variant;
    return &makemore_kernels_portable;
}

void makemore_matmul(MakemoreKernelVariant variant, const float *a, const float *b, float *c,
                     long m, long k, long n, long ldb, long ldc, int accumulate) {
    table(variant)->matmul(a, b, c, m, k, n, ldb, ldc, accumulate);
}

void makemore_matmul_transposed_a(MakemoreKernelVariant variant, const float *a, const float *b, float *c,
                                  long m, long k, long n, long lda, long ldb, long ldc, int accumulate) {
    table(variant)->matmul_transposed_a(a, b, c, m, k, n, lda, ldb, ldc, accumulate);
}

void makemore_matmul_transposed_b(MakemoreKernelVariant variant, const float *a, const float *b, float *c,
                                  long m, long k, long n, long ldb, long ldc, int accumulate) {
    table(variant)->matmul_transposed_b(a, b, c, m, k, n, ldb, ldc, accumulate);
}

float makemore_exp(MakemoreKernelVariant variant, const float *x, float shift, float *out, long count) {
    return table(variant)->exp(x, shift, out, count);
}

void makemore_tanh(MakemoreKernelVariant variant, const float *x, float *out, long count) {
    table(variant)->tanh(x, out, count);
}

void makemore_batch_norm_forward(MakemoreKernelVariant variant, const float *x, float *out, float *xhat,
                                 float *inverse_std, const float *gain, const float *bias, float *running_mean,
                                 float *running_variance, long n, long stride, long w, float epsilon,
                                 float momentum, int updating_running_statistics) {
    table(variant)->batch_norm_forward(x, out, xhat, inverse_std, gain, bias, running_mean, running_variance, n, stride,
                                       w, epsilon, momentum, updating_running_statistics);
}

void makemore_batch_norm_backward(MakemoreKernelVariant variant, const float *d_out, const float *xhat,
                                  const float *inverse_std, const float *gain, float *d_gain, float *d_bias,
                                  float *sum_d_out, float *sum_d_xhat, float *scale, float *d_x, long n, long stride,
                                  long w) {
    table(variant)->batch_norm_backward(d_out, xhat, inverse_std, gain, d_gain, d_bias, sum_d_out, sum_d_xhat, scale,
                                        d_x, n, stride, w);
}

void makemore_broadcast_rows(MakemoreKernelVariant variant, const float *bias, float *out, long n, long stride,
                             long w) {
    table(variant)->broadcast_rows(bias, out, n, stride, w);
}

void makemore_column_sums(MakemoreKernelVariant variant, const float *x, float *sums, long n, long stride, long w) {
    table(variant)->column_sums(x, sums, n, stride, w);
}

void makemore_tanh_backward(MakemoreKernelVariant variant, const float *h, const float *d, float *dx, long n,
                            long stride, long w) {
    table(variant)->tanh_backward(h, d, dx, n, stride, w);
}

void makemore_sgd_step(MakemoreKernelVariant variant, float *p, const float *dp, float learning_rate, long count) {
    table(variant)->sgd_step(p, dp, learning_rate, count);
}

void makemore_add(MakemoreKernelVariant variant, float *total, const float *x, long count) {
    table(variant)->add(total, x, count);
}

void makemore_scatter_add_rows(MakemoreKernelVariant variant, const int *indices, long count, const float *d_out,
                               float *d_table, long e) {
    table(variant)->scatter_add_rows(indices, count, d_out, d_table, e);
}

void makemore_cross_entropy_forward(MakemoreKernelVariant variant, const float *logits, const int *targets,
                                    float *probs, float *losses, long n, long v) {
    table(variant)->cross_entropy_forward(logits, targets, probs, losses, n, v);
}

void makemore_cross_entropy_backward(MakemoreKernelVariant variant, const float *probs, const int *targets,
                                     float *d_logits, long n, long v, float scale) {
    table(variant)->cross_entropy_backward(probs, targets, d_logits, n, v, scale);
}

void makemore_adamw_update(MakemoreKernelVariant variant, float *values, const float *gradients, float *m, float *v,
                          long count, const MakemoreAdamWStep *step) {
    table(variant)->adamw_update(values, gradients, m, v, count, step);
}

void makemore_attention_forward(MakemoreKernelVariant variant, const float *qkv, float *att, float *y, long n,
                                long heads, long head_size) {
    table(variant)->attention_forward(qkv, att, y, n, heads, head_size);
}

void makemore_attention_backward(MakemoreKernelVariant variant, const float *qkv, const float *att, const float *d_y,
                                 float *d_qkv, float *d_att, long n, long heads, long head_size) {
    table(variant)->attention_backward(qkv, att, d_y, d_qkv, d_att, n, heads, head_size);
}

void makemore_layer_norm_forward(MakemoreKernelVariant variant, const float *x, float *out, float *mean, float *rstd,
                                 const float *weight, const float *bias, long rows, long c, float epsilon) {
    table(variant)->layer_norm_forward(x, out, mean, rstd, weight, bias, rows, c, epsilon);
}

void makemore_layer_norm_input_gradient(MakemoreKernelVariant variant, const float *x, const float *mean,
                                        const float *rstd, const float *weight, const float *d_out, float *d_x,
                                        long rows, long c) {
    table(variant)->layer_norm_input_gradient(x, mean, rstd, weight, d_out, d_x, rows, c);
}

void makemore_gelu_forward(MakemoreKernelVariant variant, const float *x, float *out, float *t, long count) {
    table(variant)->gelu_forward(x, out, t, count);
}

void makemore_gelu_backward(MakemoreKernelVariant variant, const float *x, const float *t, const float *d_out,
                            float *d_x, long count, int accumulate) {
    table(variant)->gelu_backward(x, t, d_out, d_x, count, accumulate);
}

// MARK: Scratch memory

/// Each thread's buffer; its first 64 bytes hold its capacity in floats. Freed when the thread ends.
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void create_scratch_key(void) { pthread_key_create(&scratch_key, free); }

float *makemore_scratch(long count) {
    pthread_once(&scratch_once, create_scratch_key);
    char *buffer = pthread_getspecific(scratch_key);
    if (buffer && *(long *)buffer >= count) return (float *)(buffer + 64);
    free(buffer);
    void *fresh = NULL;
    if (posix_memalign(&fresh, 64, 64 + (size_t)count * sizeof(float)) != 0) {
        fprintf(stderr, "makemore: cannot allocate %ld floats of scratch memory\n", count);
        abort();
    }
    *(long *)fresh = count;
    pthread_setspecific(scratch_key, fresh);
    return (float *)((char *)fresh + 64);
}
