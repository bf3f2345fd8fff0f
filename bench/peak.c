// Single-core FP32 peak: 24 independent chains of AVX-512 fused multiply-adds on registers (enough
// to hide the FMA latency on both FMA pipes), 2·10⁷ iterations, best of seven.
//   cc -O2 -mavx512f -o /tmp/peak bench/peak.c && taskset -c 1 /tmp/peak
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

int main(void) {
    enum { CHAINS = 24 };
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(1.0000001f), b = _mm512_set1_ps(0.9999999f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    double best = 0;
    for (int rep = 0; rep < 7; rep++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        const long n = 20000000;
        for (long k = 0; k < n; k++) {
#pragma GCC unroll 24
            for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        const double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        const double gflops = (double)n * CHAINS * 32 / seconds / 1e9;  // 16 lanes x 2 FLOP an FMA
        if (gflops > best) best = gflops;
    }
    float sum = 0;  // keeps the chains alive
    for (int i = 0; i < CHAINS; i++) sum += _mm512_reduce_add_ps(acc[i]);
    printf("%.1f GFLOP/s (checksum %g)\n", best, sum);
    return 0;
}
