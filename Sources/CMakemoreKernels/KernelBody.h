// The Float kernels, written once and compiled once per variant: each Kernels*.c file defines
// FUSED and includes this file, on x86-64 inside a `#pragma clang attribute` region that gives
// every function here its instruction set. Everything is static, so each file's copy stands
// alone; KERNEL_TABLE names the entry points for the file's `KernelTable`.
//
// The arithmetic is the same in every variant where FUSED is 1: each element of a product is
// c + a·b fused (one rounding), in order along the shared dimension, starting from 0 or the old
// c; exp and tanh are Cephes' single-precision algorithms, lane by lane. Tiling, packing and
// vector widths move data, never change a value, so the AVX2 and AVX-512 builds give the same
// bits. Nothing here is contracted implicitly: a multiply-add is fused only where written so.
#pragma clang fp contract(off)
#ifndef WIDE_VECTORS
/// 1 where the matrix products run on 16-lane tiles as well (the AVX-512 build).
#define WIDE_VECTORS 0
#endif
// The helpers below pass vectors by value, which on x86-64 without AVX uses a different calling
// convention than with it; they are always inlined, so no call ever uses it.
#pragma clang diagnostic ignored "-Wpsabi"

#if FUSED
/// `s + x·y` with one rounding, on vectors or scalars.
#define MULTIPLY_ADD(s, x, y) __builtin_elementwise_fma((x), (y), (s))
#else
/// `s + x·y` as a multiply and an add.
#define MULTIPLY_ADD(s, x, y) ((s) + (x) * (y))
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

enum {
    /// Lanes of a matrix vector; products with fewer columns run on scalar loops.
    VECTOR_WIDTH = 8,
    /// Steps of the shared dimension per packed panel: 256 × 32 floats are 32 KiB, an L1 cache.
    DEPTH_BLOCK = 256,
    /// `b` in rows is read in place unless the product has at least PACKING_ROWS rows and `b` at
    /// least PACKING_COUNT elements (256 KiB: more than L1 and a quarter of L2).
    PACKING_ROWS = 64,
    PACKING_COUNT = 1 << 16,
    /// The widest column tile.
    MAXIMUM_TILE_WIDTH = 32,
};

ALWAYS_INLINE long min_long(long x, long y) { return x < y ? x : y; }

ALWAYS_INLINE v8f load8(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
ALWAYS_INLINE void store8(v8f v, float *p) { memcpy(p, &v, sizeof v); }
ALWAYS_INLINE v16f load16(const float *p) { v16f v; memcpy(&v, p, sizeof v); return v; }
ALWAYS_INLINE void store16(v16f v, float *p) { memcpy(p, &v, sizeof v); }
ALWAYS_INLINE v8f splat8(float x) { return (v8f){x, x, x, x, x, x, x, x}; }

// MARK: Matrix products
//
// Every product is a sweep of a micro-kernel over tiles of `c`. A micro-kernel keeps a tile of `c`
// in 8-lane accumulators (8 rows × 24 columns: 24 of them) and, for each step `p` along the shared
// dimension, adds the outer product of a column of `a` (one broadcast per row) and a row segment
// of `b` (one load per vector): 24 multiply-adds for 3 loads and 8 broadcasts.
// The left operand is read through two strides, so `a (m,k)` and `aᵀ` stored `(k,m)` feed it in
// place. The right operand needs contiguous rows: `b (k,n)` is read in place when small, else
// packed into `(256, width)` panels that stay in L1; `bᵀ` stored `(n,k)` is always packed, by 8×8
// register transposes.
//
// Columns are covered by 24-wide tiles, and the last 9 to 32 columns by one 16-, 24- or 32-wide
// tile (the 32-wide one has 4 rows). In a tile that reaches past column n, the last vectors move
// left to end at n, overlapping their neighbours in the same tile: the overlapping lanes get the
// same value twice, so nothing is read or written outside the matrices. Rows past the last repeat
// it: computed, never stored. The tiles are sized for 32 vector registers (AVX-512's 32 `ymm`).

/// The left operand: element `(r, p)` at `pointer[r * row_stride + p * depth_stride]`.
typedef struct Left {
    const float *pointer;
    long row_stride, depth_stride;
} Left;

/// The right operand of one tile: vector `v` of step `p` at `pointer + p * stride + offsets[v]`
/// (`offsets[0]` is 0).
typedef struct Right {
    const float *pointer;
    long stride;
    const long *offsets;
} Right;

/// Where a micro-kernel's tile of `c` lives: vector `v` of row `r` at
/// `pointer + r * stride + offsets[v]`, for `r < rows`. Added to when `accumulate`.
typedef struct Output {
    float *pointer;
    long stride;
    const long *offsets;
    long rows;
    int accumulate;
} Output;

/// A column tile of `c`: `rows` × `vectors` vectors (8×3, 8×2 or 4×4), its first column, and the
/// column of each vector relative to it (`8·v`, except where the tile reaches past the last column).
typedef struct Tile {
    long rows, vectors, column;
    long offsets[4];
} Tile;

/// Vector offsets in a packed panel: contiguous.
static const long packed_offsets[4] = {0, 8, 16, 24};
/// The same for wide (16-lane) tiles.
static const long packed_offsets_wide[4] = {0, 16, 32, 48};

/// The tile starting at `column` of `n` (n ≥ 8): 24 wide while more than 32 columns are left, then
/// one tile of 16 (9–16 left), 24 (17–24) or 32 (25–32) columns. Vector v starts at 8v, or at
/// rest − 8 (ending at column n) where 8v would pass it.
ALWAYS_INLINE Tile column_tile(long n, long column) {
    long rest = n - column;
    Tile tile = {.rows = 8, .vectors = 3, .column = column, .offsets = {0, 8, 16, 24}};
    if (rest > 32) return tile;
    if (rest > 24) {
        tile.rows = 4;
        tile.vectors = 4;
    } else if (rest <= 16) {
        tile.vectors = 2;
    }
    for (int v = 0; v < 4; v++) tile.offsets[v] = min_long(8 * v, rest - VECTOR_WIDTH);
    return tile;
}

/// `c[r][v] (+)= Σp a(r, p) · b(p, v)` for R rows × V vectors, R·V accumulators; each step V loads
/// of `b`, R broadcasts of `a` and R·V multiply-adds. Inlined with constant R and V into the three
/// micro-kernels below, its loops unroll and its accumulators stay in registers.
ALWAYS_INLINE void multiply_tile(const int R, const int V, Left a, Right b, long depth, Output c) {
    long a_offsets[8];
    v8f s[8][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
        long row = min_long(r, c.rows - 1);  // rows past the last repeat it
        a_offsets[r] = row * a.row_stride;
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++)
            s[r][v] = c.accumulate ? load8(c.pointer + row * c.stride + c.offsets[v]) : (v8f){0};
    }
    const float *a_step = a.pointer, *b_step = b.pointer;
    for (long p = 0; p < depth; p++) {
        v8f y[4];
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) y[v] = load8(b_step + (v == 0 ? 0 : b.offsets[v]));
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            v8f x = splat8(a_step[a_offsets[r]]);
#pragma clang loop unroll(full)
            for (int v = 0; v < V; v++) s[r][v] = MULTIPLY_ADD(s[r][v], x, y[v]);
        }
        a_step += a.depth_stride;
        b_step += b.stride;
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
        if (r >= c.rows) break;
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) store8(s[r][v], c.pointer + r * c.stride + c.offsets[v]);
    }
}

// The micro-kernels are never inlined: compiled once with run-time strides, their loops stay as
// written (inlined where a stride is a constant, the vectorizer may rebuild them into shuffles).

// The operands are passed by pointer: a struct of more than two words passed by value is copied
// to the stack at every call, which at the lecture's sizes (a few steps of depth a call) cost as
// much as a third of the calls' time. Copied into locals here, their fields live in registers.

/// 8 rows × 24 columns: 24 accumulators, 28 vector registers in all.
__attribute__((noinline)) static void multiply_8x24(const Left *a, const Right *b, long depth, const Output *c) {
    multiply_tile(8, 3, *a, *b, depth, *c);
}

/// 8 rows × 16 columns: 16 accumulators.
__attribute__((noinline)) static void multiply_8x16(const Left *a, const Right *b, long depth, const Output *c) {
    multiply_tile(8, 2, *a, *b, depth, *c);
}

/// 4 rows × 32 columns: 16 accumulators, for the last 25–32 columns.
__attribute__((noinline)) static void multiply_4x32(const Left *a, const Right *b, long depth, const Output *c) {
    multiply_tile(4, 4, *a, *b, depth, *c);
}

/// One column tile of `c` over its `m` rows, a micro-kernel call per 8 (or 4) rows.
static void sweep(const Tile *tile, Left left, Right right, float *c, long c_stride, long m, long depth,
                  int accumulate) {
    Left a = left;
    Output out = {c, c_stride, tile->offsets, tile->rows, accumulate};
    for (long row = 0; row < m; row += tile->rows) {
        a.pointer = left.pointer + row * left.row_stride;
        out.pointer = c + row * c_stride;
        out.rows = min_long(tile->rows, m - row);
        if (tile->rows == 4) multiply_4x32(&a, &right, depth, &out);
        else if (tile->vectors == 3) multiply_8x24(&a, &right, depth, &out);
        else multiply_8x16(&a, &right, depth, &out);
    }
}

/// `panel[p·width + 8v + l] = source[p·stride + offsets[v] + l]` for `p < depth`, `l < 8` and each
/// vector `v` of `tile`: the columns the tile reads, copied into contiguous panel rows.
static void pack_rows(const float *source, long stride, long depth, const Tile *tile, float *panel) {
    long width = tile->vectors * VECTOR_WIDTH;
    for (long p = 0; p < depth; p++)
        for (long v = 0; v < tile->vectors; v++)
            store8(load8(source + p * stride + tile->offsets[v]), panel + p * width + v * VECTOR_WIDTH);
}

/// Writes the transpose of the 8×8 block at `source` (rows `row_stride` apart) to `target` (rows
/// `stride` apart): three perfect shuffles (even lanes of each pair of rows, then odd lanes).
ALWAYS_INLINE void transpose8x8(const float *source, long row_stride, float *target, long stride) {
    v8f r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = load8(source + i * row_stride);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 4; i++) {
            t[i] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 0, 2, 4, 6, 8, 10, 12, 14);
            t[i + 4] = __builtin_shufflevector(r[2 * i], r[2 * i + 1], 1, 3, 5, 7, 9, 11, 13, 15);
        }
        for (int i = 0; i < 8; i++) r[i] = t[i];
    }
    for (int i = 0; i < 8; i++) store8(r[i], target + i * stride);
}

/// `panel[p·width + 8v + l] = source[(offsets[v] + l)·row_stride + p]` for `p < depth`, `l < 8` and
/// each vector `v` of `tile`: the columns the tile reads, transposed into contiguous panel rows.
static void pack_transposed(const float *source, long row_stride, long depth, const Tile *tile, float *panel) {
    long width = tile->vectors * VECTOR_WIDTH;
    for (long v = 0; v < tile->vectors; v++) {
        const float *rows = source + tile->offsets[v] * row_stride;
        float *columns = panel + v * VECTOR_WIDTH;
        if (depth < VECTOR_WIDTH) {
            for (long p = 0; p < depth; p++)
                for (long l = 0; l < VECTOR_WIDTH; l++) columns[p * width + l] = rows[l * row_stride + p];
            continue;
        }
        // 8×8 blocks; the last one moves back to end at `depth`, rewriting some values.
        for (long p = 0; p < depth; p += VECTOR_WIDTH) {
            long start = min_long(p, depth - VECTOR_WIDTH);
            transpose8x8(rows + start, row_stride, columns + start * width, width);
        }
    }
}

/// `c (m,n) (+)= A (m,k) @ B (k,n)`, the left operand read in place, the right one (`b`, rows
/// `b_stride` apart, stored `(n,k)` when `transposed`) by panels.
///
/// A small `b` in rows is read in place: one column tile at a time over all rows. Otherwise the
/// shared dimension is cut into DEPTH_BLOCK steps; within a block, each column tile's
/// `(block, width)` panel of `b` is packed contiguously (once, and reused by every row: it stays
/// in L1) and then swept over all rows (whose block of `a` stays in L2).
static void multiply(Left left, const float *b, long b_stride, int transposed, float *c, long c_stride,
                     long m, long k, long n, int accumulate) {
    if (!transposed && (m < PACKING_ROWS || k * n < PACKING_COUNT)) {
        for (long column = 0; column < n;) {
            Tile tile = column_tile(n, column);
            Right right = {b + column, b_stride, tile.offsets};
            sweep(&tile, left, right, c + column, c_stride, m, k, accumulate);
            column += tile.vectors * VECTOR_WIDTH;
        }
        return;
    }
    float *panel = makemore_scratch(min_long(k, DEPTH_BLOCK) * MAXIMUM_TILE_WIDTH);
    for (long depth = 0; depth < k; depth += DEPTH_BLOCK) {
        long steps = min_long(DEPTH_BLOCK, k - depth);
        Left block = {left.pointer + depth * left.depth_stride, left.row_stride, left.depth_stride};
        for (long column = 0; column < n;) {
            Tile tile = column_tile(n, column);
            long width = tile.vectors * VECTOR_WIDTH;
            if (transposed) pack_transposed(b + column * b_stride + depth, b_stride, steps, &tile, panel);
            else pack_rows(b + depth * b_stride + column, b_stride, steps, &tile, panel);
            Right right = {panel, width, packed_offsets};
            sweep(&tile, block, right, c + column, c_stride, m, steps, accumulate || depth > 0);
            column += width;
        }
    }
}

#if WIDE_VECTORS
// MARK: Wide tiles (AVX-512)
//
// The same products with 16-lane vectors, for the AVX-512 build, whose processor may run a 16-lane
// multiply-add as fast as an 8-lane one: each element of `c` is still summed in order along the
// shared dimension with one fused multiply-add a step, starting from 0 or the old `c`, so the bits
// are those of the 8-lane tiles. Tiles are 8 rows × 3 vectors (48 columns) while more than 64
// columns are left, then one tile of 16 (up to 16 left), 32 (17–32), 48 (33–48) or 64 (49–64, 4
// rows) columns whose last vectors move left to end at `n`, as above. Products with fewer than 16
// columns take the 8-lane path.

enum {
    WIDE_WIDTH = 16,
    /// Steps of the shared dimension per packed panel: 128 × 64 floats are 32 KiB.
    WIDE_DEPTH_BLOCK = 128,
    WIDE_MAXIMUM_TILE_WIDTH = 64,
};

ALWAYS_INLINE v16f wide_splat(float x) { return (v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }

/// The wide tile starting at `column` of `n` (n ≥ 16).
ALWAYS_INLINE Tile wide_column_tile(long n, long column) {
    long rest = n - column;
    Tile tile = {.rows = 8, .vectors = 3, .column = column, .offsets = {0, 16, 32, 48}};
    if (rest > 64) return tile;
    if (rest > 48) {
        tile.rows = 4;
        tile.vectors = 4;
    } else if (rest <= 16) {
        tile.vectors = 1;
    } else if (rest <= 32) {
        tile.vectors = 2;
    }
    for (int v = 0; v < 4; v++) tile.offsets[v] = min_long(WIDE_WIDTH * v, rest - WIDE_WIDTH);
    return tile;
}

/// `multiply_tile` with 16-lane vectors: R rows × V vectors of `c`.
ALWAYS_INLINE void multiply_wide_tile(const int R, const int V, Left a, Right b, long depth, Output c) {
    long a_offsets[8];
    v16f s[8][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
        long row = min_long(r, c.rows - 1);  // rows past the last repeat it
        a_offsets[r] = row * a.row_stride;
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++)
            s[r][v] = c.accumulate ? load16(c.pointer + row * c.stride + c.offsets[v]) : (v16f){0};
    }
    const float *a_step = a.pointer, *b_step = b.pointer;
    for (long p = 0; p < depth; p++) {
        v16f y[4];
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) y[v] = load16(b_step + (v == 0 ? 0 : b.offsets[v]));
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            v16f x = wide_splat(a_step[a_offsets[r]]);
#pragma clang loop unroll(full)
            for (int v = 0; v < V; v++) s[r][v] = MULTIPLY_ADD(s[r][v], x, y[v]);
        }
        a_step += a.depth_stride;
        b_step += b.stride;
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
        if (r >= c.rows) break;
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) store16(s[r][v], c.pointer + r * c.stride + c.offsets[v]);
    }
}

/// 8 rows × 48 columns: 24 accumulators, 28 of the 32 vector registers.
__attribute__((noinline)) static void multiply_wide_8x48(const Left *a, const Right *b, long depth, const Output *c) {
    multiply_wide_tile(8, 3, *a, *b, depth, *c);
}

/// 8 rows × 32 columns.
__attribute__((noinline)) static void multiply_wide_8x32(const Left *a, const Right *b, long depth, const Output *c) {
    multiply_wide_tile(8, 2, *a, *b, depth, *c);
}

/// 8 rows × 16 columns.
__attribute__((noinline)) static void multiply_wide_8x16(const Left *a, const Right *b, long depth, const Output *c) {
    multiply_wide_tile(8, 1, *a, *b, depth, *c);
}

/// 4 rows × 64 columns, for the last 49–64 columns.
__attribute__((noinline)) static void multiply_wide_4x64(const Left *a, const Right *b, long depth, const Output *c) {
    multiply_wide_tile(4, 4, *a, *b, depth, *c);
}

/// `sweep` with the wide micro-kernels.
static void wide_sweep(const Tile *tile, Left left, Right right, float *c, long c_stride, long m, long depth,
                       int accumulate) {
    Left a = left;
    Output out = {c, c_stride, tile->offsets, tile->rows, accumulate};
    for (long row = 0; row < m; row += tile->rows) {
        a.pointer = left.pointer + row * left.row_stride;
        out.pointer = c + row * c_stride;
        out.rows = min_long(tile->rows, m - row);
        if (tile->rows == 4) multiply_wide_4x64(&a, &right, depth, &out);
        else if (tile->vectors == 3) multiply_wide_8x48(&a, &right, depth, &out);
        else if (tile->vectors == 2) multiply_wide_8x32(&a, &right, depth, &out);
        else multiply_wide_8x16(&a, &right, depth, &out);
    }
}

/// `pack_rows` for a wide tile: 16 columns a vector.
static void wide_pack_rows(const float *source, long stride, long depth, const Tile *tile, float *panel) {
    long width = tile->vectors * WIDE_WIDTH;
    for (long p = 0; p < depth; p++)
        for (long v = 0; v < tile->vectors; v++)
            store16(load16(source + p * stride + tile->offsets[v]), panel + p * width + v * WIDE_WIDTH);
}

/// `pack_transposed` for a wide tile: each 16-lane vector as two 8-column halves.
static void wide_pack_transposed(const float *source, long row_stride, long depth, const Tile *tile, float *panel) {
    long width = tile->vectors * WIDE_WIDTH;
    for (long half = 0; half < 2 * tile->vectors; half++) {
        const float *rows = source + (tile->offsets[half / 2] + VECTOR_WIDTH * (half % 2)) * row_stride;
        float *columns = panel + half * VECTOR_WIDTH;
        if (depth < VECTOR_WIDTH) {
            for (long p = 0; p < depth; p++)
                for (long l = 0; l < VECTOR_WIDTH; l++) columns[p * width + l] = rows[l * row_stride + p];
            continue;
        }
        for (long p = 0; p < depth; p += VECTOR_WIDTH) {
            long start = min_long(p, depth - VECTOR_WIDTH);
            transpose8x8(rows + start, row_stride, columns + start * width, width);
        }
    }
}

/// `multiply` with wide tiles, for `n` ≥ 16.
static void wide_multiply(Left left, const float *b, long b_stride, int transposed, float *c, long c_stride,
                          long m, long k, long n, int accumulate) {
    if (!transposed && (m < PACKING_ROWS || k * n < PACKING_COUNT)) {
        for (long column = 0; column < n;) {
            Tile tile = wide_column_tile(n, column);
            Right right = {b + column, b_stride, tile.offsets};
            wide_sweep(&tile, left, right, c + column, c_stride, m, k, accumulate);
            column += tile.vectors * WIDE_WIDTH;
        }
        return;
    }
    float *panel = makemore_scratch(min_long(k, WIDE_DEPTH_BLOCK) * WIDE_MAXIMUM_TILE_WIDTH);
    for (long depth = 0; depth < k; depth += WIDE_DEPTH_BLOCK) {
        long steps = min_long(WIDE_DEPTH_BLOCK, k - depth);
        Left block = {left.pointer + depth * left.depth_stride, left.row_stride, left.depth_stride};
        for (long column = 0; column < n;) {
            Tile tile = wide_column_tile(n, column);
            long width = tile.vectors * WIDE_WIDTH;
            if (transposed) wide_pack_transposed(b + column * b_stride + depth, b_stride, steps, &tile, panel);
            else wide_pack_rows(b + depth * b_stride + column, b_stride, steps, &tile, panel);
            Right right = {panel, width, packed_offsets_wide};
            wide_sweep(&tile, block, right, c + column, c_stride, m, steps, accumulate || depth > 0);
            column += width;
        }
    }
}
#endif

/// `c (+)= A @ b` for `n` under one vector. Each element is summed as in the vector kernels (in
/// order along the shared dimension, with MULTIPLY_ADD), so a block of columns gets the same
/// values whichever way it is computed.
static void narrow_matmul(Left a, const float *b, long ldb, float *c, long ldc, long m, long k, long n,
                          int accumulate) {
    for (long i = 0; i < m; i++) {
        float *c_row = c + i * ldc;
        if (!accumulate)
            for (long j = 0; j < n; j++) c_row[j] = 0;
        for (long p = 0; p < k; p++) {
            float aip = a.pointer[i * a.row_stride + p * a.depth_stride];
            const float *b_row = b + p * ldb;
            for (long j = 0; j < n; j++) c_row[j] = MULTIPLY_ADD(c_row[j], aip, b_row[j]);
        }
    }
}

/// `c (+)= a @ bᵀ` by dot products, for `n` under one vector, summed as the vector kernels sum.
static void narrow_matmul_transposed_b(const float *a, const float *b, long ldb, float *c, long ldc,
                                       long m, long k, long n, int accumulate) {
    for (long i = 0; i < m; i++) {
        for (long j = 0; j < n; j++) {
            float sum = accumulate ? c[i * ldc + j] : 0;
            for (long p = 0; p < k; p++) sum = MULTIPLY_ADD(sum, a[i * k + p], b[j * ldb + p]);
            c[i * ldc + j] = sum;
        }
    }
}

static void matmul(const float *a, const float *b, float *c, long m, long k, long n, long ldb, long ldc,
                   int accumulate) {
    if (m <= 0 || n <= 0) return;
    Left left = {a, k, 1};
    if (k <= 0 || n < VECTOR_WIDTH) return narrow_matmul(left, b, ldb, c, ldc, m, k, n, accumulate);
#if WIDE_VECTORS
    if (n >= WIDE_WIDTH) return wide_multiply(left, b, ldb, 0, c, ldc, m, k, n, accumulate);
#endif
    multiply(left, b, ldb, 0, c, ldc, m, k, n, accumulate);
}

static void matmul_transposed_a(const float *a, const float *b, float *c, long m, long k, long n, long lda,
                                long ldb, long ldc, int accumulate) {
    if (m <= 0 || n <= 0) return;
    Left left = {a, 1, lda};
    if (k <= 0 || n < VECTOR_WIDTH) return narrow_matmul(left, b, ldb, c, ldc, m, k, n, accumulate);
#if WIDE_VECTORS
    if (n >= WIDE_WIDTH) return wide_multiply(left, b, ldb, 0, c, ldc, m, k, n, accumulate);
#endif
    multiply(left, b, ldb, 0, c, ldc, m, k, n, accumulate);
}

static void matmul_transposed_b(const float *a, const float *b, float *c, long m, long k, long n, long ldb,
                                long ldc, int accumulate) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || n < VECTOR_WIDTH) return narrow_matmul_transposed_b(a, b, ldb, c, ldc, m, k, n, accumulate);
#if WIDE_VECTORS
    if (n >= WIDE_WIDTH) return wide_multiply((Left){a, k, 1}, b, ldb, 1, c, ldc, m, k, n, accumulate);
#endif
    multiply((Left){a, k, 1}, b, ldb, 1, c, ldc, m, k, n, accumulate);
}

// MARK: exp and tanh
//
// Cephes' single-precision algorithms, within 1 ulp of the correctly rounded result over the
// ranges used here, 16 lanes at a time; lanes are selected with integer bit operations.

ALWAYS_INLINE v16u bits16(v16f x) { return (v16u)x; }
ALWAYS_INLINE v16f float16(v16u x) { return (v16f)x; }
ALWAYS_INLINE v16f splat16(float x) { return (v16f){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }

/// `result`, with NaN in the lanes where `input` is NaN: the clamping in exp16 would otherwise turn
/// a NaN into a number, and a diverging run must show up as a NaN loss.
ALWAYS_INLINE v16f propagating_nan(v16f input, v16f result) {
    // A float is NaN when its magnitude bits exceed those of infinity.
    v16u magnitude = bits16(input) & 0x7FFFFFFFu;
    v16u is_nan = 0u - ((0x7F800000u - magnitude) >> 31);
    return float16(bits16(result) | (is_nan & 0x7FC00000u));
}

/// `e^x`: `x = n ln2 + r` with `|r| <= ln2/2`, a degree-7 polynomial for `e^r`, and `2^n` built in
/// the exponent bits. Inputs are clamped to the range where the result is a normal float.
ALWAYS_INLINE v16f exp16(v16f input) {
    v16f x = __builtin_elementwise_min(__builtin_elementwise_max(input, splat16(-87.33654f)), splat16(88.72283f));
    // n = round(x / ln 2) by adding 1.5·2²³: the low bits of t then hold n.
    v16f t = MULTIPLY_ADD(splat16(12582912.0f), x, splat16(1.44269504088896341f));
    v16f n = t - 12582912.0f;
    x = MULTIPLY_ADD(x, n, splat16(-0.693359375f));  // ln 2 in two parts, for an exact r
    x = MULTIPLY_ADD(x, n, splat16(2.12194440e-4f));
    v16f y = splat16(1.9875691500e-4f);
    y = MULTIPLY_ADD(splat16(1.3981999507e-3f), y, x);
    y = MULTIPLY_ADD(splat16(8.3334519073e-3f), y, x);
    y = MULTIPLY_ADD(splat16(4.1665795894e-2f), y, x);
    y = MULTIPLY_ADD(splat16(1.6666665459e-1f), y, x);
    y = MULTIPLY_ADD(splat16(5.0000001201e-1f), y, x);
    y = MULTIPLY_ADD(x, y, x * x) + 1.0f;
    v16u scale = ((bits16(t) - bits16(splat16(12582912.0f))) + 127u) << 23;
    return propagating_nan(input, y * float16(scale));
}

/// `tanh x`: for `|x| < 0.625` an odd polynomial, else `±(1 - 2 / (e^{2|x|} + 1))`.
ALWAYS_INLINE v16f tanh16(v16f x) {
    v16u sign = bits16(x) & 0x80000000u;
    v16f magnitude = float16(bits16(x) & 0x7FFFFFFFu);
    v16f z = x * x;
    v16f p = splat16(-5.70498872745e-3f);
    p = MULTIPLY_ADD(splat16(2.06390887954e-2f), p, z);
    p = MULTIPLY_ADD(splat16(-5.37397155531e-2f), p, z);
    p = MULTIPLY_ADD(splat16(1.33314422036e-1f), p, z);
    p = MULTIPLY_ADD(splat16(-3.33332819422e-1f), p, z);
    v16f small = MULTIPLY_ADD(x, p * z, x);
    v16f large = float16(bits16(1.0f - 2.0f / (exp16(2.0f * magnitude) + 1.0f)) | sign);
    // All ones where |x| < 0.625: bit patterns of non-negative floats order like the floats.
    v16u use_small = 0u - ((bits16(magnitude) - bits16(splat16(0.625f))) >> 31);
    return propagating_nan(x, float16((bits16(small) & use_small) | (bits16(large) & ~use_small)));
}

static float exp_array(const float *x, float shift, float *out, long count) {
    v16f sum = {0};
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        v16f e = exp16(load16(x + i) - shift);
        store16(e, out + i);
        sum += e;
    }
    float total = -0.0f;
    for (int l = 0; l < 16; l++) total += sum[l];
    if (i < count) {
        v16f tail = splat16(-100);  // exp(-100 - shift) is never stored
        for (long j = 0; j < count - i; j++) tail[j] = x[i + j];
        v16f e = exp16(tail - shift);
        for (long j = 0; j < count - i; j++) {
            out[i + j] = e[j];
            total += e[j];
        }
    }
    return total;
}

static void tanh_array(const float *x, float *out, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) store16(tanh16(load16(x + i)), out + i);
    if (i < count) {
        v16f tail = {0};
        for (long j = 0; j < count - i; j++) tail[j] = x[i + j];
        v16f t = tanh16(tail);
        for (long j = 0; j < count - i; j++) out[i + j] = t[j];
    }
}


// MARK: Batch normalisation
//
// The loops of BatchNorm1d's training forward and backward (Layers/BatchNorm1d.swift, whose
// generic Swift loops are the reference and give the same bits): along the `w` features of one
// row at a time, which the compiler vectorizes for the variant's instruction set. Rows are
// `stride` apart; every feature pointer points at the first of the `w` features.

static void batch_norm_forward(const float *x, float *out, float *xhat, float *inverse_std, const float *gain,
                               const float *bias, float *running_mean, float *running_variance, long n, long stride,
                               long w, float epsilon, float momentum, int updating_running_statistics) {
    float *mean = xhat, *variance = inverse_std;  // the mean lives in the first row of xhat until row 0 is written
    for (long j = 0; j < w; j++) mean[j] = 0;
    for (long j = 0; j < w; j++) variance[j] = 0;
    for (long i = 0; i < n; i++) {
        const float *row = x + i * stride;
        for (long j = 0; j < w; j++) mean[j] += row[j];
    }
    for (long j = 0; j < w; j++) mean[j] /= (float)n;
    for (long i = 0; i < n; i++) {
        const float *row = x + i * stride;
        for (long j = 0; j < w; j++) variance[j] += (row[j] - mean[j]) * (row[j] - mean[j]);
    }
    for (long j = 0; j < w; j++) variance[j] /= (float)(n - 1);
    if (updating_running_statistics) {
        for (long j = 0; j < w; j++) {
            running_mean[j] = (1 - momentum) * running_mean[j] + momentum * mean[j];
            running_variance[j] = (1 - momentum) * running_variance[j] + momentum * variance[j];
        }
    }
    for (long j = 0; j < w; j++) variance[j] = 1 / __builtin_elementwise_sqrt(variance[j] + epsilon);
    for (long i = n - 1; i >= 0; i--) {  // row 0 last: it holds the mean the other rows subtract
        const float *row = x + i * stride;
        float *normalized_row = xhat + i * stride, *out_row = out + i * stride;
        for (long j = 0; j < w; j++) {
            float normalized = (row[j] - mean[j]) * variance[j];
            normalized_row[j] = normalized;
            out_row[j] = gain[j] * normalized + bias[j];
        }
    }
}

static void batch_norm_backward(const float *d_out, const float *xhat, const float *inverse_std, const float *gain,
                                float *d_gain, float *d_bias, float *sum_d_out, float *sum_d_xhat, float *scale,
                                float *d_x, long n, long stride, long w) {
    for (long j = 0; j < w; j++) sum_d_out[j] = 0;
    for (long j = 0; j < w; j++) sum_d_xhat[j] = 0;
    for (long i = 0; i < n; i++) {
        const float *d = d_out + i * stride, *normalized = xhat + i * stride;
        for (long j = 0; j < w; j++) {
            sum_d_out[j] += d[j];
            sum_d_xhat[j] += d[j] * normalized[j];
        }
    }
    for (long j = 0; j < w; j++) {
        d_gain[j] = sum_d_xhat[j];
        d_bias[j] = sum_d_out[j];
        scale[j] = gain[j] * inverse_std[j];
        sum_d_out[j] *= scale[j] / (float)n;
        sum_d_xhat[j] *= scale[j] / (float)(n - 1);
    }
    for (long i = 0; i < n; i++) {
        const float *d = d_out + i * stride, *normalized = xhat + i * stride;
        float *d_row = d_x + i * stride;
        for (long j = 0; j < w; j++) d_row[j] = scale[j] * d[j] - sum_d_out[j] - sum_d_xhat[j] * normalized[j];
    }
}

// MARK: Element-wise passes
//
// The remaining loops of the fast training steps (MLPFastStep, WaveNetFastStep), each the loop of
// a Swift function that stays as its reference and the `Double` path: Linear's bias and bias
// gradient, Tanh's backward, the SGD update, the sum of shares, the embedding's scatter-add and the
// softmax cross-entropy. Each is the Swift loop written again, operation for operation and in the
// same order (nothing is fused: `fp contract(off)`), so it gives the same bits; the compiler
// vectorizes it for the variant's instruction set. Rows are `stride` floats apart.

/// `out[i·stride + j] = bias[j]` for `i < n`, `j < w`.
static void broadcast_rows(const float *bias, float *out, long n, long stride, long w) {
    for (long i = 0; i < n; i++) {
        float *row = out + i * stride;
        for (long j = 0; j < w; j++) row[j] = bias[j];
    }
}

/// `sums[j] = Σi x[i·stride + j]` for `j < w`, over `i < n` in order from 0.
static void column_sums(const float *x, float *sums, long n, long stride, long w) {
    for (long j = 0; j < w; j++) sums[j] = 0;
    for (long i = 0; i < n; i++) {
        const float *row = x + i * stride;
        for (long j = 0; j < w; j++) sums[j] += row[j];
    }
}

/// `dx = (1 - h·h) · d` element by element, over `n` rows of `w`.
static void tanh_backward(const float *h, const float *d, float *dx, long n, long stride, long w) {
    for (long i = 0; i < n; i++) {
        const float *h_row = h + i * stride, *d_row = d + i * stride;
        float *dx_row = dx + i * stride;
        for (long j = 0; j < w; j++) dx_row[j] = (1 - h_row[j] * h_row[j]) * d_row[j];
    }
}

/// `p[i] = p[i] - learning_rate · dp[i]` for `i < count`.
static void sgd_step(float *p, const float *dp, float learning_rate, long count) {
    for (long i = 0; i < count; i++) p[i] -= learning_rate * dp[i];
}

/// `total[i] = total[i] + x[i]` for `i < count`.
static void add_array(float *total, const float *x, long count) {
    for (long i = 0; i < count; i++) total[i] += x[i];
}

/// `d_table[indices[p]·e + j] += d_out[p·e + j]` for `p < count`, `j < e`, in order of `p`.
static void scatter_add_rows(const int *indices, long count, const float *d_out, float *d_table, long e) {
    for (long p = 0; p < count; p++) {
        float *d_row = d_table + (long)indices[p] * e;
        const float *d_in = d_out + p * e;
        for (long j = 0; j < e; j++) d_row[j] += d_in[j];
    }
}

/// Softmax and loss of `n` rows of `v` logits: `probs = softmax(z)` and
/// `losses[i] = log Σ exp(z - max) - (z[target] - max)`; the shifted rows are exponentiated in one
/// `exp_array` pass over all of them (CrossEntropy.forward).
static void cross_entropy_forward(const float *logits, const int *targets, float *probs, float *losses, long n,
                                  long v) {
    if (n <= 0 || v <= 0) return;
    for (long i = 0; i < n; i++) {
        const float *z = logits + i * v;
        float *p = probs + i * v;
        float maximum = z[0];
        for (long j = 1; j < v; j++)
            if (z[j] > maximum) maximum = z[j];
        for (long j = 0; j < v; j++) p[j] = z[j] - maximum;
        losses[i] = -p[targets[i]];
    }
    exp_array(probs, 0, probs, n * v);
    for (long i = 0; i < n; i++) {
        float *p = probs + i * v;
        float sum = 0;
        for (long j = 0; j < v; j++) sum += p[j];
        float inverse = 1 / sum;
        for (long j = 0; j < v; j++) p[j] *= inverse;
        losses[i] += logf(sum);
    }
}

/// `d_logits = (probs - onehot(targets)) · scale` over `n` rows of `v`, as `probs·scale`, then
/// `scale` subtracted at the target (CrossEntropy.backward; `scale` is 1 / batch size).
static void cross_entropy_backward(const float *probs, const int *targets, float *d_logits, long n, long v,
                                   float scale) {
    for (long i = 0; i < n; i++) {
        const float *p = probs + i * v;
        float *d = d_logits + i * v;
        for (long j = 0; j < v; j++) d[j] = p[j] * scale;
        d[targets[i]] -= scale;
    }
}

// MARK: AdamW
//
// The element update of `AdamW.update` (Models/Optimizer.swift, whose Swift loop is the reference
// and the `Double` path), operation for operation. Its two multiply-adds are fused in every
// variant, as PyTorch's vectorised kernels fuse them (`fma` here is never MULTIPLY_ADD: in the
// portable x86-64 build each lane is a call to the C library's `fmaf`, as in Swift); the rest is
// one rounding per operation.

/// `p`, `m`, `v` moved by one AdamW step `s` from `g` (see makemore_adamw_update), on lanes or
/// scalars; `first_weight` is `1 - β1` in the same form.
#define ADAMW_ELEMENT(p, g, m, v, first_weight, s)                                                      \
    do {                                                                                                \
        if ((s)->decays) p = p * (s)->decay;                                                            \
        m = __builtin_elementwise_fma((first_weight), g - m, m);                                        \
        v = __builtin_elementwise_fma((s)->second_weight * g, g, (s)->beta2 * v);                       \
        p = p + (s)->negative_step_size * m / (__builtin_elementwise_sqrt(v) / (s)->correction2_root +   \
                                               (s)->epsilon);                                           \
    } while (0)

static void adamw_update(float *values, const float *gradients, float *m, float *v, long count,
                         const MakemoreAdamWStep *step) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        v16f g = load16(gradients + i), p = load16(values + i), mi = load16(m + i), vi = load16(v + i);
        ADAMW_ELEMENT(p, g, mi, vi, splat16(step->first_weight), step);
        store16(p, values + i);
        store16(mi, m + i);
        store16(vi, v + i);
    }
    for (; i < count; i++) {
        float g = gradients[i], p = values[i], mi = m[i], vi = v[i];
        ADAMW_ELEMENT(p, g, mi, vi, step->first_weight, step);
        values[i] = p;
        m[i] = mi;
        v[i] = vi;
    }
}

// MARK: Eight-lane sums
//
// Tensor/Lanes.swift's reductions over a short row (a LayerNorm row, an attention head's
// features): eight partial sums, lane `l` adding the elements `l, l + 8, ...` in order from 0,
// then the eight lanes in order (from -0, as Swift's `SIMD.sum()`), then the tail in order.

/// `((-0 + lanes[0]) + lanes[1]) + … + lanes[7]`.
ALWAYS_INLINE float lane_total(v8f lanes) {
    float total = -0.0f;
    for (int l = 0; l < 8; l++) total += lanes[l];
    return total;
}

/// `Σj x[j]` for `j < n` (Lanes.sum).
ALWAYS_INLINE float lanes_sum(const float *x, long n) {
    v8f lanes = {0};
    long j = 0;
    for (; j + 8 <= n; j += 8) lanes += load8(x + j);
    float total = lane_total(lanes);
    for (; j < n; j++) total += x[j];
    return total;
}

/// `Σj (x[j] - mean)²` for `j < n` (Lanes.squaredDeviations).
ALWAYS_INLINE float lanes_squared_deviations(const float *x, float mean, long n) {
    v8f lanes = {0};
    long j = 0;
    for (; j + 8 <= n; j += 8) {
        v8f d = load8(x + j) - mean;
        lanes += d * d;
    }
    float total = lane_total(lanes);
    for (; j < n; j++) total += (x[j] - mean) * (x[j] - mean);
    return total;
}

/// `Σj a[j] · b[j]` for `j < n` (Lanes.dot).
ALWAYS_INLINE float lanes_dot(const float *a, const float *b, long n) {
    v8f lanes = {0};
    long j = 0;
    for (; j + 8 <= n; j += 8) lanes += load8(a + j) * load8(b + j);
    float total = lane_total(lanes);
    for (; j < n; j++) total += a[j] * b[j];
    return total;
}

/// `y[j] = y[j] + alpha · x[j]` for `j < n` (Lanes.addProduct).
ALWAYS_INLINE void lanes_add_product(float alpha, const float *x, float *y, long n) {
    long j = 0;
    for (; j + 8 <= n; j += 8) store8(load8(y + j) + alpha * load8(x + j), y + j);
    for (; j < n; j++) y[j] += alpha * x[j];
}

// MARK: Causal self-attention
//
// CausalSelfAttention's loops for one word of `n` positions (Layers/CausalSelfAttention.swift,
// whose Swift loops are the reference): `qkv (n, 3C)` and `y`, `d_y` `(n, C)` at the word's first
// row, `att (heads, n, n)` the word's probabilities, `C = heads · head_size`. The softmax's `exp`
// is the C library's `expf`, as in Swift.

static void attention_forward(const float *qkv, float *att, float *y, long n, long heads, long head_size) {
    long c = heads * head_size, hs = head_size;
    float scale = 1.0f / __builtin_elementwise_sqrt((float)hs);
    for (long h = 0; h < heads; h++) {
        float *a = att + h * n * n;  // (n, n)
        for (long t = 0; t < n; t++) {
            const float *q = qkv + t * 3 * c + h * hs;
            float *p = a + t * n;
            // scores, then softmax over u ≤ t (the maximum subtracted first; Swift's max(x, y) is y ≥ x ? y : x)
            float maximum = -INFINITY;
            for (long u = 0; u <= t; u++) {
                p[u] = lanes_dot(q, qkv + u * 3 * c + c + h * hs, hs) * scale;
                maximum = p[u] >= maximum ? p[u] : maximum;
            }
            float sum = 0;
            for (long u = 0; u <= t; u++) {
                p[u] = expf(p[u] - maximum);
                sum += p[u];
            }
            for (long u = 0; u <= t; u++) p[u] /= sum;
            for (long u = t + 1; u < n; u++) p[u] = 0;
            // y_t = Σu att[t, u] v_u
            float *out = y + t * c + h * hs;
            for (long j = 0; j < hs; j++) out[j] = 0;
            for (long u = 0; u <= t; u++) lanes_add_product(p[u], qkv + u * 3 * c + 2 * c + h * hs, out, hs);
        }
    }
}

static void attention_backward(const float *qkv, const float *att, const float *d_y, float *d_qkv, float *d_att,
                               long n, long heads, long head_size) {
    long c = heads * head_size, hs = head_size;
    float scale = 1.0f / __builtin_elementwise_sqrt((float)hs);
    for (long h = 0; h < heads; h++) {
        const float *a = att + h * n * n;
        for (long t = 0; t < n; t++) {
            const float *p = a + t * n, *dy = d_y + t * c + h * hs;
            long q_t = t * 3 * c + h * hs;  // offsets of q_t in qkv; k_u and v_u at u·3C + C (+ C) + h·hs
            float weighted = 0;  // Σ_w att[t, w] datt[t, w]
            for (long u = 0; u <= t; u++) {
                long v_u = u * 3 * c + 2 * c + h * hs;
                float dot = lanes_dot(dy, qkv + v_u, hs);
                lanes_add_product(p[u], dy, d_qkv + v_u, hs);
                d_att[u] = dot;
                weighted += p[u] * dot;
            }
            for (long u = 0; u <= t; u++) {
                long k_u = u * 3 * c + c + h * hs;
                float d_score = p[u] * (d_att[u] - weighted) * scale;
                lanes_add_product(d_score, qkv + k_u, d_qkv + q_t, hs);
                lanes_add_product(d_score, qkv + q_t, d_qkv + k_u, hs);
            }
        }
    }
}

// MARK: Layer normalisation
//
// LayerNorm's forward and input gradient on `rows` rows of `c` (Layers/LayerNorm.swift, whose
// Swift loops are the reference); `mean` and `rstd` at the first row's.

static void layer_norm_forward(const float *x, float *out, float *mean, float *rstd, const float *weight,
                               const float *bias, long rows, long c, float epsilon) {
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * c;
        float *o = out + r * c;
        float m = lanes_sum(row, c) / (float)c;
        float s = 1.0f / __builtin_elementwise_sqrt(lanes_squared_deviations(row, m, c) / (float)c + epsilon);
        for (long j = 0; j < c; j++) o[j] = weight[j] * ((row[j] - m) * s) + bias[j];
        mean[r] = m;
        rstd[r] = s;
    }
}

static void layer_norm_input_gradient(const float *x, const float *mean, const float *rstd, const float *weight,
                                      const float *d_out, float *d_x, long rows, long c) {
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * c, *d = d_out + r * c;
        float *dx = d_x + r * c;
        float m = mean[r], s = rstd[r];
        // mean(dxhat) and mean(dxhat · xhat), eight lanes of partial sums each
        v8f dxhat_lanes = {0}, dxhat_xhat_lanes = {0};
        long j = 0;
        for (; j + 8 <= c; j += 8) {
            v8f xhat = (load8(row + j) - m) * s, dxhat = load8(d + j) * load8(weight + j);
            dxhat_lanes += dxhat;
            dxhat_xhat_lanes += dxhat * xhat;
        }
        float dxhat_mean = lane_total(dxhat_lanes), dxhat_xhat_mean = lane_total(dxhat_xhat_lanes);
        for (; j < c; j++) {
            float xhat = (row[j] - m) * s, dxhat = d[j] * weight[j];
            dxhat_mean += dxhat;
            dxhat_xhat_mean += dxhat * xhat;
        }
        dxhat_mean /= (float)c;
        dxhat_xhat_mean /= (float)c;
        for (j = 0; j < c; j++) {
            float xhat = (row[j] - m) * s, dxhat = d[j] * weight[j];
            dx[j] += s * (dxhat - dxhat_mean - xhat * dxhat_xhat_mean);
        }
    }
}

// MARK: GELU
//
// GELU's forward and backward (Layers/GELU.swift, whose Swift loops are the reference), with
// `u = √(2/π) (x + 0.044715 x³)` and `tanh u` by tanh16, sixteen lanes at a time: Swift computes
// all `u` first and then their tanh by `tanh_array`, which gives each lane the same bits.

/// `√(2/π)` and `0.044715`, rounded from Double as Swift's `T(…)` rounds them.
#define GELU_SQRT_TWO_OVER_PI ((float)__builtin_sqrt(2.0 / 3.141592653589793115997963468544185161590576171875))
#define GELU_CUBIC ((float)0.044715)

ALWAYS_INLINE v16f gelu_u16(v16f x) { return GELU_SQRT_TWO_OVER_PI * (x + GELU_CUBIC * x * x * x); }

static void gelu_forward(const float *x, float *out, float *t, long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        v16f v = load16(x + i), th = tanh16(gelu_u16(v));
        store16(th, t + i);
        store16(0.5f * v * (1.0f + th), out + i);
    }
    if (i < count) {
        v16f v = {0};
        for (long j = 0; j < count - i; j++) v[j] = x[i + j];
        v16f th = tanh16(gelu_u16(v)), o = 0.5f * v * (1.0f + th);
        for (long j = 0; j < count - i; j++) {
            t[i + j] = th[j];
            out[i + j] = o[j];
        }
    }
}

static void gelu_backward(const float *x, const float *t, const float *d_out, float *d_x, long count, int accumulate) {
    const float three_cubic = 3.0f * GELU_CUBIC;
    for (long i = 0; i < count; i++) {
        float v = x[i], ti = t[i];
        float du = GELU_SQRT_TWO_OVER_PI * (1.0f + three_cubic * v * v);
        float d = d_out[i] * (0.5f * (1.0f + ti) + 0.5f * v * (1.0f - ti * ti) * du);
        d_x[i] = accumulate ? d_x[i] + d : d;
    }
}

#define KERNEL_TABLE \
    {matmul, matmul_transposed_a, matmul_transposed_b, exp_array, tanh_array, batch_norm_forward, \
     batch_norm_backward, broadcast_rows, column_sums, tanh_backward, sgd_step, add_array, scatter_add_rows, \
     cross_entropy_forward, cross_entropy_backward, adamw_update, attention_forward, attention_backward, \
     layer_norm_forward, layer_norm_input_gradient, gelu_forward, gelu_backward}
