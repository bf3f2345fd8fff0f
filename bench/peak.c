// The core's single-precision peak: twelve independent chains of fused multiply-adds on
// registers, with 8-lane (ymm) and with 16-lane (zmm) vectors, best of seven runs of 2·10⁷
// steps, timed by the wall clock and by the thread's CPU time (on a shared machine the second
// leaves out the time another process held the core). x86-64 with AVX-512 only:
//   cc -O2 -mavx512f -mavx512vl -mfma bench/peak.c -o /tmp/peak && taskset -c 1 /tmp/peak
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

typedef __m256 v8;
typedef __m512 v16;
enum { CHAINS = 12 };  // chains, each a register

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// s = s·a + b in each of twelve chains; the empty asm keeps every chain in a register.
#define CHAIN_LOOP(type, fma, constraint)                                                                        \
    type s0 = a, s1 = a, s2 = a, s3 = a, s4 = a, s5 = a, s6 = a, s7 = a, s8 = a, s9 = a, s10 = a, s11 = a;         \
    for (long k = 0; k < steps; k++) {                                                                          \
        s0 = fma(s0, a, b), s1 = fma(s1, a, b), s2 = fma(s2, a, b), s3 = fma(s3, a, b);                         \
        s4 = fma(s4, a, b), s5 = fma(s5, a, b), s6 = fma(s6, a, b), s7 = fma(s7, a, b);                         \
        s8 = fma(s8, a, b), s9 = fma(s9, a, b), s10 = fma(s10, a, b), s11 = fma(s11, a, b);                     \
        __asm__ volatile("" : constraint(s0), constraint(s1), constraint(s2), constraint(s3), constraint(s4),    \
                         constraint(s5), constraint(s6), constraint(s7), constraint(s8), constraint(s9),         \
                         constraint(s10), constraint(s11));                                                      \
    }                                                                                                           \
    return s0[0] + s1[0] + s2[0] + s3[0] + s4[0] + s5[0] + s6[0] + s7[0] + s8[0] + s9[0] + s10[0] + s11[0];

__attribute__((noinline)) static float chains8(long steps, v8 a, v8 b) { CHAIN_LOOP(v8, _mm256_fmadd_ps, "+x") }
__attribute__((noinline)) static float chains16(long steps, v16 a, v16 b) { CHAIN_LOOP(v16, _mm512_fmadd_ps, "+v") }

int main(void) {
    const long steps = 20000000;
    v8 a8 = _mm256_set1_ps(0.5f), b8 = _mm256_set1_ps(1);
    v16 a16 = _mm512_set1_ps(0.5f), b16 = _mm512_set1_ps(1);
    double best[2][2] = {{0}};  // [lanes 8 / 16][wall / cpu], GFLOP/s
    float sink = 0;
    for (int run = 0; run < 7; run++) {
        for (int wide = 0; wide < 2; wide++) {
            double wall = seconds(CLOCK_MONOTONIC), cpu = seconds(CLOCK_THREAD_CPUTIME_ID);
            sink += wide ? chains16(steps, a16, b16) : chains8(steps, a8, b8);
            double flops = (double)steps * CHAINS * (wide ? 16 : 8) * 2;
            wall = flops / (seconds(CLOCK_MONOTONIC) - wall) / 1e9;
            cpu = flops / (seconds(CLOCK_THREAD_CPUTIME_ID) - cpu) / 1e9;
            if (wall > best[wide][0]) best[wide][0] = wall;
            if (cpu > best[wide][1]) best[wide][1] = cpu;
        }
    }
    printf(" 8 lanes (ymm): %6.1f GFLOP/s by the wall clock, %6.1f by CPU time\n", best[0][0], best[0][1]);
    printf("16 lanes (zmm): %6.1f GFLOP/s by the wall clock, %6.1f by CPU time\n", best[1][0], best[1][1]);
    return sink == 0;  // each chain ends at 2: never 0
}
