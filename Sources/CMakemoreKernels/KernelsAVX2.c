// The kernels for x86-64 with AVX2 and FMA: 16 vector registers, so the 8×24 tile's 24
// accumulators partly live in memory; same arithmetic as the AVX-512 build.
#include "KernelSupport.h"

#if defined(__x86_64__)
#define FUSED 1
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "KernelBody.h"
#pragma clang attribute pop

const KernelTable makemore_kernels_avx2 = KERNEL_TABLE;
#endif
