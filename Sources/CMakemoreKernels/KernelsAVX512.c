// The kernels for x86-64 with AVX-512 (F, VL, DQ) and FMA: 32 vector registers hold the 8×24 tile,
// and the matrix products of 16 columns or more run on 16-lane tiles (WIDE_VECTORS).
#include "KernelSupport.h"

#if defined(__x86_64__)
#define FUSED 1
#define WIDE_VECTORS 1
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,fma"))), apply_to = function)
#include "KernelBody.h"
#pragma clang attribute pop

const KernelTable makemore_kernels_avx512 = KERNEL_TABLE;
#endif
