// The kernels for the architecture's baseline: x86-64 without FMA (a multiply and an add: a fused
// multiply-add would be a library call per lane), arm64 with it (NEON always has FMA).
#include "KernelSupport.h"

#if defined(__aarch64__) || defined(__FMA__)
#define FUSED 1
#else
#define FUSED 0
#endif
#include "KernelBody.h"

const KernelTable makemore_kernels_portable = KERNEL_TABLE;
