// Counts the calls to the C allocator of the process it is preloaded into and prints the count
// to standard error at exit: `LD_PRELOAD=malloc-count.so program`. Used by bench/allocations.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_long calls;

#define COUNTED(result, name, params, args)                          \
    result name params {                                              \
        static result (*next) params;                                 \
        if (!next) next = (result (*) params)dlsym(RTLD_NEXT, #name); \
        atomic_fetch_add(&calls, 1);                                  \
        return next args;                                             \
    }

COUNTED(void *, malloc, (size_t size), (size))
COUNTED(void *, calloc, (size_t count, size_t size), (count, size))
COUNTED(void *, realloc, (void *pointer, size_t size), (pointer, size))
COUNTED(void *, aligned_alloc, (size_t alignment, size_t size), (alignment, size))
COUNTED(int, posix_memalign, (void **pointer, size_t alignment, size_t size), (pointer, alignment, size))

__attribute__((destructor)) static void report(void) {
    char line[64];
    int length = snprintf(line, sizeof line, "allocations: %ld\n", (long)atomic_load(&calls));
    if (length > 0) write(2, line, (size_t)length);
}
