import Foundation

/// Matrix products on row-major storage, in the three forms a Linear layer needs:
///
///     forward            out   = x @ W          matmul              (m,k) @ (k,n)
///     input gradient     dx    = dout @ Wᵀ      matmulTransposedB   (m,k) @ (n,k)ᵀ
///     weight gradient    dW   += xᵀ @ dout      matmulTransposedA   (k,m)ᵀ @ (k,n)
///
/// `Float` products run on the register-blocked SIMD kernels of `FloatMatmul`, other scalars on
/// plain loops, all on the calling thread (`MLPFastStep` shares a step's products between
/// threads). Leading dimensions (`lda`, `ldb`, `ldc`) let a product read or write a block of a
/// wider matrix in place. `c` must not overlap `a` or `b`.
/// Each has a plain reference in `ReferenceKernels`, held equal by the tests.
public enum Kernels {
    /// `c (m,n) = a (m,k) @ b (k,n)`, or `c += a @ b` when `accumulate`.
    ///
    /// `ldb` and `ldc` are the distances between rows of `b` and `c` (`n` unless given), so that a
    /// block of columns of a wider matrix can be read or written in place.
    public static func matmul<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int, ldb: Int? = nil, ldc: Int? = nil, accumulate: Bool = false
    ) {
        let ldb = ldb ?? n, ldc = ldc ?? n
        if T.self == Float.self {
            FloatMatmul.matmul(
                floats(a), floats(b), into: floats(c), m: m, k: k, n: n, ldb: ldb, ldc: ldc, accumulate: accumulate)
            return
        }
        // i-p-j order: the inner loop runs along contiguous rows of b and c.
        for i in 0..<m {
            let cRow = c + i * ldc
            if !accumulate { cRow.update(repeating: 0, count: n) }
            for p in 0..<k {
                let aip = a[i * k + p]
                let bRow = b + p * ldb
                for j in 0..<n { cRow[j] += aip * bRow[j] }
            }
        }
    }

    /// `c (m,n) = a (m,k) @ bᵀ`, or `c += a @ bᵀ` when `accumulate`, where `b` is stored `(n,k)` with
    /// rows `ldb` apart (`k` unless given); rows of `c` are `ldc` apart (`n` unless given).
    public static func matmulTransposedB<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int, ldb: Int? = nil, ldc: Int? = nil, accumulate: Bool = false
    ) {
        let ldb = ldb ?? k, ldc = ldc ?? n
        if T.self == Float.self {
            FloatMatmul.matmulTransposedB(
                floats(a), floats(b), into: floats(c), m: m, k: k, n: n, ldb: ldb, ldc: ldc, accumulate: accumulate)
            return
        }
        // Each element is a dot product of two contiguous rows.
        for i in 0..<m {
            let aRow = a + i * k
            for j in 0..<n {
                let bRow = b + j * ldb
                var sum: T = accumulate ? c[i * ldc + j] : 0
                for p in 0..<k { sum += aRow[p] * bRow[p] }
                c[i * ldc + j] = sum
            }
        }
    }

    /// `c (m,n) += aᵀ @ b`, or `c = aᵀ @ b` unless `accumulate`, where `a` is stored `(k,m)` with rows
    /// `lda` apart (`m` unless given), and `b` is `(k,n)`; rows of `b` and `c` are `ldb` and `ldc`
    /// apart (`n` unless given).
    public static func matmulTransposedA<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil, accumulate: Bool = true
    ) {
        let lda = lda ?? m, ldb = ldb ?? n, ldc = ldc ?? n
        if T.self == Float.self {
            FloatMatmul.matmulTransposedA(
                floats(a), floats(b), into: floats(c), m: m, k: k, n: n, lda: lda, ldb: ldb, ldc: ldc,
                accumulate: accumulate)
            return
        }
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        for p in 0..<k {
            let aRow = a + p * lda
            let bRow = b + p * ldb
            for i in 0..<m {
                let api = aRow[i]
                let cRow = c + i * ldc
                for j in 0..<n { cRow[j] += api * bRow[j] }
            }
        }
    }

    /// The same pointer seen as `Float`, for `T == Float`.
    @inline(__always) private static func floats<T>(_ pointer: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }

    @inline(__always) private static func floats<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }
}

/// The `Float` kernels behind `Kernels`.
///
/// Every product is a sweep of a micro-kernel over tiles of `c`. A micro-kernel keeps a tile of `c`
/// in `SIMD8<Float>` accumulators (8 rows × 24 columns: 24 of them) and, for each step `p` along the
/// shared dimension, adds the outer product of a column of `a` (one broadcast per row) and a row
/// segment of `b` (one load per vector): 24 fused multiply-adds for 3 loads and 8 broadcasts.
/// The left operand is read through two strides, so `a (m,k)` and `aᵀ` stored `(k,m)` feed it in
/// place. The right operand needs contiguous rows: `b (k,n)` is read in place when small, else
/// packed into `(256, width)` panels that stay in L1; `bᵀ` stored `(n,k)` is always packed, by 8×8
/// register transposes.
///
/// Columns are covered by 24-wide tiles, and the last 9 to 32 columns by one 16-, 24- or 32-wide tile
/// (the 32-wide one has 4 rows). In a tile that reaches past column n, the last vectors move left to
/// end at n, overlapping their neighbours in the same tile: the overlapping lanes get the same value
/// twice, so nothing is read or written outside the matrices. Rows past the last repeat it: computed,
/// never stored.
///
/// The tiles are sized for 32 vector registers (AVX-512 exposes 32 `ymm`). With 16 (AVX2) or
/// 32 × 128-bit (NEON), 24 accumulators of 8 lanes do not fit and the compiler spills them.
enum FloatMatmul {
    typealias Vector = SIMD8<Float>

    /// Products with fewer columns than this run on plain loops.
    static let vectorWidth = Vector.scalarCount

    /// Steps of the shared dimension per packed panel: 256 × 32 floats are 32 KiB, an L1 cache.
    static let depthBlock = 256

    /// `b` in rows is read in place unless the product has at least `packingRows` rows (per thread)
    /// and `b` at least `packingCount` elements (256 KiB: more than L1 and a quarter of L2).
    static let packingRows = 64
    static let packingCount = 1 << 16

    // MARK: Products

    /// `c (m,n) = a (m,k) @ b (k,n)`, or `+=` when `accumulate`; rows of `b`, `c` are `ldb`, `ldc` apart.
    static func matmul(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, ldb: Int, ldc: Int, accumulate: Bool
    ) {
        guard m > 0, n > 0 else { return }
        let left = Left(pointer: a, rowStride: k, depthStride: 1)
        guard k > 0, n >= vectorWidth else {
            return narrowMatmul(left, b, ldb: ldb, into: c, ldc: ldc, m: m, k: k, n: n, accumulate: accumulate)
        }
        multiply(left, .rows(b, stride: ldb), into: c, cStride: ldc, m: m, k: k, n: n, accumulate: accumulate)
    }

    /// `c (m,n) (+)= aᵀ @ b` where `a` is stored `(k,m)` with rows `lda` apart.
    static func matmulTransposedA(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, lda: Int, ldb: Int, ldc: Int, accumulate: Bool
    ) {
        guard m > 0, n > 0 else { return }
        let left = Left(pointer: a, rowStride: 1, depthStride: lda)
        guard k > 0, n >= vectorWidth else {
            return narrowMatmul(left, b, ldb: ldb, into: c, ldc: ldc, m: m, k: k, n: n, accumulate: accumulate)
        }
        multiply(left, .rows(b, stride: ldb), into: c, cStride: ldc, m: m, k: k, n: n, accumulate: accumulate)
    }

    /// `c (m,n) (+)= a (m,k) @ bᵀ` where `b` is stored `(n,k)` with rows `ldb` apart.
    static func matmulTransposedB(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, ldb: Int, ldc: Int, accumulate: Bool
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0, n >= vectorWidth else {
            return narrowMatmulTransposedB(a, b, ldb: ldb, into: c, ldc: ldc, m: m, k: k, n: n, accumulate: accumulate)
        }
        multiply(
            Left(pointer: a, rowStride: k, depthStride: 1), .transposed(b, stride: ldb), into: c, cStride: ldc,
            m: m, k: k, n: n, accumulate: accumulate)
    }

    // MARK: Blocking

    /// How the right operand `(k,n)` is stored.
    enum RightOperand {
        /// Row-major `(k,n)`, rows `stride` apart.
        case rows(UnsafePointer<Float>, stride: Int)
        /// Its transpose, row-major `(n,k)`, rows `stride` apart.
        case transposed(UnsafePointer<Float>, stride: Int)
    }

    /// `c (m,n) (+)= A (m,k) @ B (k,n)`, the left operand read in place, the right one by panels.
    ///
    /// A small `b` in rows (see `packingRows`) is read in place: one column tile at a time over all
    /// rows. Otherwise the shared dimension is cut into `depthBlock` steps; within a block, each column
    /// tile's `(block, width)` panel of `b` is packed contiguously (once, and reused by every row: it
    /// stays in L1) and then swept over all rows (whose block of `a` stays in L2).
    static func multiply(
        _ left: Left, _ right: RightOperand, into c: UnsafeMutablePointer<Float>, cStride: Int,
        m: Int, k: Int, n: Int, accumulate: Bool
    ) {
        if case .rows(let b, let stride) = right, m < packingRows || k * n < packingCount {
            forEachColumnTile(n: n) { tile in
                sweep(
                    tile, left, Right(pointer: b + tile.column, stride: stride, offsets: tile.offsets),
                    into: c + tile.column, cStride: cStride, m: m, depth: k, accumulate: accumulate)
            }
            return
        }
        let panel = Scratch.floats(min(k, depthBlock) * Tile.maximumWidth)
        var depth = 0
        while depth < k {
            let steps = min(depthBlock, k - depth)
            let block = Left(
                pointer: left.pointer + depth * left.depthStride, rowStride: left.rowStride, depthStride: left.depthStride)
            forEachColumnTile(n: n) { tile in
                switch right {
                case .rows(let b, let stride):
                    packRows(b + depth * stride + tile.column, stride: stride, depth: steps, tile: tile, into: panel)
                case .transposed(let b, let stride):
                    packTransposed(b + tile.column * stride + depth, rowStride: stride, depth: steps, tile: tile, into: panel)
                }
                sweep(
                    tile, block, Right(pointer: panel, stride: tile.width, offsets: Tile.packedOffsets),
                    into: c + tile.column, cStride: cStride, m: m, depth: steps, accumulate: accumulate || depth > 0)
            }
            depth += steps
        }
    }

    // MARK: Tiling

    /// The left operand: element `(r, p)` at `pointer[r * rowStride + p * depthStride]`.
    struct Left {
        var pointer: UnsafePointer<Float>
        var rowStride: Int
        var depthStride: Int
    }

    /// The right operand of one tile: vector `v` of step `p` at `pointer + p * stride + offsets[v]`
    /// (`offsets[0]` is 0).
    struct Right {
        var pointer: UnsafePointer<Float>
        var stride: Int
        var offsets: SIMD4<Int>
    }

    /// A column tile of `c`: its micro-kernel (`shape`), its first column, and the column of each
    /// vector relative to it (`8·v`, except where the tile reaches past the last column).
    struct Tile {
        enum Shape {
            /// 8 rows × 24 columns.
            case wide
            /// 8 rows × 16 columns.
            case narrow
            /// 4 rows × 32 columns.
            case short
        }

        var shape: Shape
        var column: Int
        var offsets: SIMD4<Int>

        static let maximumWidth = 32
        /// Vector offsets in a packed panel: contiguous.
        static let packedOffsets = SIMD4<Int>(0, 8, 16, 24)

        var rows: Int { shape == .short ? 4 : 8 }
        var vectors: Int {
            switch shape {
            case .wide: 3
            case .narrow: 2
            case .short: 4
            }
        }
        var width: Int { vectors * FloatMatmul.vectorWidth }
    }

    /// Calls `body` with tiles covering columns `0..<n` (n ≥ 8): 24-wide tiles while more than 32
    /// columns are left, then one tile of 16 (9–16 left), 24 (17–24) or 32 (25–32) columns.
    @inline(__always)
    static func forEachColumnTile(n: Int, _ body: (Tile) -> Void) {
        var column = 0
        while n - column > 32 {
            body(Tile(shape: .wide, column: column, offsets: Tile.packedOffsets))
            column += 24
        }
        let rest = n - column
        let shape: Tile.Shape = rest > 24 ? .short : rest > 16 ? .wide : .narrow
        // Vector v starts at 8v, or at rest − 8 (ending at column n) where 8v would pass it.
        let offsets = Tile.packedOffsets.replacing(with: rest - vectorWidth, where: Tile.packedOffsets .> rest - vectorWidth)
        body(Tile(shape: shape, column: column, offsets: offsets))
    }

    /// One column tile of `c` over its `m` rows, a micro-kernel call per 8 (or 4) rows.
    static func sweep(
        _ tile: Tile, _ left: Left, _ right: Right, into c: UnsafeMutablePointer<Float>, cStride: Int,
        m: Int, depth: Int, accumulate: Bool
    ) {
        var row = 0
        while row < m {
            let rows = min(tile.rows, m - row)
            let a = Left(pointer: left.pointer + row * left.rowStride, rowStride: left.rowStride, depthStride: left.depthStride)
            let c = Output(pointer: c + row * cStride, stride: cStride, offsets: tile.offsets, rows: rows, accumulate: accumulate)
            switch tile.shape {
            case .wide: multiply8x24(a, right, depth: depth, into: c)
            case .narrow: multiply8x16(a, right, depth: depth, into: c)
            case .short: multiply4x32(a, right, depth: depth, into: c)
            }
            row += tile.rows
        }
    }

    /// `panel[p·width + 8v + l] = source[p·stride + offsets[v] + l]` for `p < depth`, `l < 8` and
    /// each vector `v` of `tile`: the columns the tile reads, copied into contiguous panel rows.
    static func packRows(
        _ source: UnsafePointer<Float>, stride: Int, depth: Int, tile: Tile, into panel: UnsafeMutablePointer<Float>
    ) {
        let width = tile.width
        for p in 0..<depth {
            for vector in 0..<tile.vectors {
                store(load(source + p * stride + tile.offsets[vector]), panel + p * width + vector * vectorWidth)
            }
        }
    }

    /// `panel[p·width + 8v + l] = source[(offsets[v] + l)·rowStride + p]` for `p < depth`, `l < 8` and
    /// each vector `v` of `tile`: the columns the tile reads, transposed into contiguous panel rows.
    static func packTransposed(
        _ source: UnsafePointer<Float>, rowStride: Int, depth: Int, tile: Tile, into panel: UnsafeMutablePointer<Float>
    ) {
        let width = tile.width
        for vector in 0..<tile.vectors {
            let rows = source + tile.offsets[vector] * rowStride
            let columns = panel + vector * vectorWidth
            guard depth >= vectorWidth else {
                for p in 0..<depth {
                    for l in 0..<vectorWidth { columns[p * width + l] = rows[l * rowStride + p] }
                }
                continue
            }
            // 8×8 blocks; the last one moves back to end at `depth`, rewriting some values.
            var p = 0
            while p < depth {
                let start = min(p, depth - vectorWidth)
                transpose8x8(rows + start, rowStride: rowStride, into: columns + start * width, stride: width)
                p += vectorWidth
            }
        }
    }

    /// Writes the transpose of the 8×8 block at `source` (rows `rowStride` apart) to `target`.
    @inline(__always)
    static func transpose8x8(
        _ source: UnsafePointer<Float>, rowStride: Int, into target: UnsafeMutablePointer<Float>, stride: Int
    ) {
        var r0 = load(source), r1 = load(source + rowStride), r2 = load(source + 2 * rowStride)
        var r3 = load(source + 3 * rowStride), r4 = load(source + 4 * rowStride), r5 = load(source + 5 * rowStride)
        var r6 = load(source + 6 * rowStride), r7 = load(source + 7 * rowStride)
        // Three perfect shuffles (even lanes of each pair of rows, then odd lanes) transpose 8×8.
        for _ in 0..<3 {
            (r0, r1, r2, r3, r4, r5, r6, r7) = (
                evenLanes(r0, r1), evenLanes(r2, r3), evenLanes(r4, r5), evenLanes(r6, r7),
                oddLanes(r0, r1), oddLanes(r2, r3), oddLanes(r4, r5), oddLanes(r6, r7)
            )
        }
        store(r0, target); store(r1, target + stride); store(r2, target + 2 * stride)
        store(r3, target + 3 * stride); store(r4, target + 4 * stride); store(r5, target + 5 * stride)
        store(r6, target + 6 * stride); store(r7, target + 7 * stride)
    }

    @inline(__always) static func evenLanes(_ x: Vector, _ y: Vector) -> Vector {
        SIMD16(lowHalf: x, highHalf: y).evenHalf
    }

    @inline(__always) static func oddLanes(_ x: Vector, _ y: Vector) -> Vector {
        SIMD16(lowHalf: x, highHalf: y).oddHalf
    }

    // MARK: Micro-kernels

    /// Where a micro-kernel's tile of `c` lives: vector `v` of row `r` at
    /// `pointer + r * stride + offsets[v]`, for `r < rows`. Added to when `accumulate`.
    struct Output {
        var pointer: UnsafeMutablePointer<Float>
        var stride: Int
        var offsets: SIMD4<Int>
        var rows: Int
        var accumulate: Bool

        /// Row `r`, or the last row for `r` past it.
        @inline(__always) func row(_ r: Int) -> UnsafeMutablePointer<Float> {
            pointer + min(r, rows - 1) * stride
        }

        @inline(__always) func load(_ r: Int, _ v: Int) -> Vector {
            accumulate ? FloatMatmul.load(row(r) + offsets[v]) : Vector()
        }

        @inline(__always) func store(_ value: Vector, _ r: Int, _ v: Int) {
            if r < rows { FloatMatmul.store(value, row(r) + offsets[v]) }
        }
    }

    @inline(__always) static func load(_ pointer: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
    }

    @inline(__always) static func load(_ pointer: UnsafeMutablePointer<Float>) -> Vector {
        UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
    }

    @inline(__always) static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
    }

    /// `sum + x · y`, fused where the build targets a CPU with FMA (`MAKEMORE_FMA`, set by Package.swift
    /// with `-target-cpu native`; every arm64). `addingProduct` on a SIMD type is a loop of scalar
    /// fused multiply-adds that LLVM turns back into one `vfmadd` only when FMA is a target feature;
    /// without it each lane calls `fmaf` (about 1 GFLOP/s). `sum + x * y` is never fused by Swift,
    /// so it is the fallback: a multiply and an add.
    @inline(__always) static func multiplyAdd(_ sum: Vector, _ x: Vector, _ y: Vector) -> Vector {
        #if MAKEMORE_FMA || arch(arm64)
        sum.addingProduct(x, y)
        #else
        sum + x * y
        #endif
    }

    /// The same for one `Float`.
    @inline(__always) static func multiplyAdd(_ sum: Float, _ x: Float, _ y: Float) -> Float {
        #if MAKEMORE_FMA || arch(arm64)
        sum.addingProduct(x, y)
        #else
        sum + x * y
        #endif
    }

    /// `c[r][v] (+)= Σp a(r, p) · b(p, v)` for 8 rows × 3 vectors: 24 accumulators, each step 3 loads
    /// of `b`, 8 broadcasts of `a` and 24 multiply-adds; 28 vector registers in all.
    ///
    /// The micro-kernels are never inlined: compiled once with run-time strides, their loops stay as
    /// written. Inlined into a caller whose strides are constants (such as `rowStride` 1 for `aᵀ`),
    /// LLVM's SLP vectorizer rebuilt them into 4-lane pieces joined by shuffles (the transposed-A
    /// product ran at 14 instead of 90 GFLOP/s).
    @inline(never)
    static func multiply8x24(_ a: Left, _ b: Right, depth: Int, into c: Output) {
        let last = c.rows - 1
        let a1 = min(1, last) * a.rowStride, a2 = min(2, last) * a.rowStride, a3 = min(3, last) * a.rowStride
        let a4 = min(4, last) * a.rowStride, a5 = min(5, last) * a.rowStride, a6 = min(6, last) * a.rowStride
        let a7 = min(7, last) * a.rowStride
        let b1 = b.offsets[1], b2 = b.offsets[2]
        var s00 = c.load(0, 0), s01 = c.load(0, 1), s02 = c.load(0, 2)
        var s10 = c.load(1, 0), s11 = c.load(1, 1), s12 = c.load(1, 2)
        var s20 = c.load(2, 0), s21 = c.load(2, 1), s22 = c.load(2, 2)
        var s30 = c.load(3, 0), s31 = c.load(3, 1), s32 = c.load(3, 2)
        var s40 = c.load(4, 0), s41 = c.load(4, 1), s42 = c.load(4, 2)
        var s50 = c.load(5, 0), s51 = c.load(5, 1), s52 = c.load(5, 2)
        var s60 = c.load(6, 0), s61 = c.load(6, 1), s62 = c.load(6, 2)
        var s70 = c.load(7, 0), s71 = c.load(7, 1), s72 = c.load(7, 2)
        var aStep = a.pointer, bStep = b.pointer
        for _ in 0..<depth {
            let y0 = load(bStep), y1 = load(bStep + b1), y2 = load(bStep + b2)
            var x = Vector(repeating: aStep[0])
            s00 = multiplyAdd(s00, x, y0); s01 = multiplyAdd(s01, x, y1); s02 = multiplyAdd(s02, x, y2)
            x = Vector(repeating: aStep[a1])
            s10 = multiplyAdd(s10, x, y0); s11 = multiplyAdd(s11, x, y1); s12 = multiplyAdd(s12, x, y2)
            x = Vector(repeating: aStep[a2])
            s20 = multiplyAdd(s20, x, y0); s21 = multiplyAdd(s21, x, y1); s22 = multiplyAdd(s22, x, y2)
            x = Vector(repeating: aStep[a3])
            s30 = multiplyAdd(s30, x, y0); s31 = multiplyAdd(s31, x, y1); s32 = multiplyAdd(s32, x, y2)
            x = Vector(repeating: aStep[a4])
            s40 = multiplyAdd(s40, x, y0); s41 = multiplyAdd(s41, x, y1); s42 = multiplyAdd(s42, x, y2)
            x = Vector(repeating: aStep[a5])
            s50 = multiplyAdd(s50, x, y0); s51 = multiplyAdd(s51, x, y1); s52 = multiplyAdd(s52, x, y2)
            x = Vector(repeating: aStep[a6])
            s60 = multiplyAdd(s60, x, y0); s61 = multiplyAdd(s61, x, y1); s62 = multiplyAdd(s62, x, y2)
            x = Vector(repeating: aStep[a7])
            s70 = multiplyAdd(s70, x, y0); s71 = multiplyAdd(s71, x, y1); s72 = multiplyAdd(s72, x, y2)
            aStep += a.depthStride
            bStep += b.stride
        }
        c.store(s00, 0, 0); c.store(s01, 0, 1); c.store(s02, 0, 2)
        c.store(s10, 1, 0); c.store(s11, 1, 1); c.store(s12, 1, 2)
        c.store(s20, 2, 0); c.store(s21, 2, 1); c.store(s22, 2, 2)
        c.store(s30, 3, 0); c.store(s31, 3, 1); c.store(s32, 3, 2)
        c.store(s40, 4, 0); c.store(s41, 4, 1); c.store(s42, 4, 2)
        c.store(s50, 5, 0); c.store(s51, 5, 1); c.store(s52, 5, 2)
        c.store(s60, 6, 0); c.store(s61, 6, 1); c.store(s62, 6, 2)
        c.store(s70, 7, 0); c.store(s71, 7, 1); c.store(s72, 7, 2)
    }

    /// As `multiply8x24` for 8 rows × 2 vectors: 16 accumulators.
    @inline(never)
    static func multiply8x16(_ a: Left, _ b: Right, depth: Int, into c: Output) {
        let last = c.rows - 1
        let a1 = min(1, last) * a.rowStride, a2 = min(2, last) * a.rowStride, a3 = min(3, last) * a.rowStride
        let a4 = min(4, last) * a.rowStride, a5 = min(5, last) * a.rowStride, a6 = min(6, last) * a.rowStride
        let a7 = min(7, last) * a.rowStride
        let b1 = b.offsets[1]
        var s00 = c.load(0, 0), s01 = c.load(0, 1), s10 = c.load(1, 0), s11 = c.load(1, 1)
        var s20 = c.load(2, 0), s21 = c.load(2, 1), s30 = c.load(3, 0), s31 = c.load(3, 1)
        var s40 = c.load(4, 0), s41 = c.load(4, 1), s50 = c.load(5, 0), s51 = c.load(5, 1)
        var s60 = c.load(6, 0), s61 = c.load(6, 1), s70 = c.load(7, 0), s71 = c.load(7, 1)
        var aStep = a.pointer, bStep = b.pointer
        for _ in 0..<depth {
            let y0 = load(bStep), y1 = load(bStep + b1)
            var x = Vector(repeating: aStep[0])
            s00 = multiplyAdd(s00, x, y0); s01 = multiplyAdd(s01, x, y1)
            x = Vector(repeating: aStep[a1])
            s10 = multiplyAdd(s10, x, y0); s11 = multiplyAdd(s11, x, y1)
            x = Vector(repeating: aStep[a2])
            s20 = multiplyAdd(s20, x, y0); s21 = multiplyAdd(s21, x, y1)
            x = Vector(repeating: aStep[a3])
            s30 = multiplyAdd(s30, x, y0); s31 = multiplyAdd(s31, x, y1)
            x = Vector(repeating: aStep[a4])
            s40 = multiplyAdd(s40, x, y0); s41 = multiplyAdd(s41, x, y1)
            x = Vector(repeating: aStep[a5])
            s50 = multiplyAdd(s50, x, y0); s51 = multiplyAdd(s51, x, y1)
            x = Vector(repeating: aStep[a6])
            s60 = multiplyAdd(s60, x, y0); s61 = multiplyAdd(s61, x, y1)
            x = Vector(repeating: aStep[a7])
            s70 = multiplyAdd(s70, x, y0); s71 = multiplyAdd(s71, x, y1)
            aStep += a.depthStride
            bStep += b.stride
        }
        c.store(s00, 0, 0); c.store(s01, 0, 1); c.store(s10, 1, 0); c.store(s11, 1, 1)
        c.store(s20, 2, 0); c.store(s21, 2, 1); c.store(s30, 3, 0); c.store(s31, 3, 1)
        c.store(s40, 4, 0); c.store(s41, 4, 1); c.store(s50, 5, 0); c.store(s51, 5, 1)
        c.store(s60, 6, 0); c.store(s61, 6, 1); c.store(s70, 7, 0); c.store(s71, 7, 1)
    }

    /// As `multiply8x24` for 4 rows × 4 vectors: 16 accumulators, for the last 25–32 columns.
    @inline(never)
    static func multiply4x32(_ a: Left, _ b: Right, depth: Int, into c: Output) {
        let last = c.rows - 1
        let a1 = min(1, last) * a.rowStride, a2 = min(2, last) * a.rowStride, a3 = min(3, last) * a.rowStride
        let b1 = b.offsets[1], b2 = b.offsets[2], b3 = b.offsets[3]
        var s00 = c.load(0, 0), s01 = c.load(0, 1), s02 = c.load(0, 2), s03 = c.load(0, 3)
        var s10 = c.load(1, 0), s11 = c.load(1, 1), s12 = c.load(1, 2), s13 = c.load(1, 3)
        var s20 = c.load(2, 0), s21 = c.load(2, 1), s22 = c.load(2, 2), s23 = c.load(2, 3)
        var s30 = c.load(3, 0), s31 = c.load(3, 1), s32 = c.load(3, 2), s33 = c.load(3, 3)
        var aStep = a.pointer, bStep = b.pointer
        for _ in 0..<depth {
            let y0 = load(bStep), y1 = load(bStep + b1), y2 = load(bStep + b2), y3 = load(bStep + b3)
            var x = Vector(repeating: aStep[0])
            s00 = multiplyAdd(s00, x, y0); s01 = multiplyAdd(s01, x, y1)
            s02 = multiplyAdd(s02, x, y2); s03 = multiplyAdd(s03, x, y3)
            x = Vector(repeating: aStep[a1])
            s10 = multiplyAdd(s10, x, y0); s11 = multiplyAdd(s11, x, y1)
            s12 = multiplyAdd(s12, x, y2); s13 = multiplyAdd(s13, x, y3)
            x = Vector(repeating: aStep[a2])
            s20 = multiplyAdd(s20, x, y0); s21 = multiplyAdd(s21, x, y1)
            s22 = multiplyAdd(s22, x, y2); s23 = multiplyAdd(s23, x, y3)
            x = Vector(repeating: aStep[a3])
            s30 = multiplyAdd(s30, x, y0); s31 = multiplyAdd(s31, x, y1)
            s32 = multiplyAdd(s32, x, y2); s33 = multiplyAdd(s33, x, y3)
            aStep += a.depthStride
            bStep += b.stride
        }
        c.store(s00, 0, 0); c.store(s01, 0, 1); c.store(s02, 0, 2); c.store(s03, 0, 3)
        c.store(s10, 1, 0); c.store(s11, 1, 1); c.store(s12, 1, 2); c.store(s13, 1, 3)
        c.store(s20, 2, 0); c.store(s21, 2, 1); c.store(s22, 2, 2); c.store(s23, 2, 3)
        c.store(s30, 3, 0); c.store(s31, 3, 1); c.store(s32, 3, 2); c.store(s33, 3, 3)
    }

    // MARK: Narrow products

    /// `c (+)= A @ b` for `n` under one vector. Each element is summed as in the vector kernels (in
    /// order along the shared dimension, with `multiplyAdd`), so a block of columns gets the same
    /// values whichever way it is computed.
    static func narrowMatmul(
        _ a: Left, _ b: UnsafePointer<Float>, ldb: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
        m: Int, k: Int, n: Int, accumulate: Bool
    ) {
        for i in 0..<m {
            let cRow = c + i * ldc
            if !accumulate { cRow.update(repeating: 0, count: n) }
            for p in 0..<k {
                let aip = a.pointer[i * a.rowStride + p * a.depthStride]
                let bRow = b + p * ldb
                for j in 0..<n { cRow[j] = multiplyAdd(cRow[j], aip, bRow[j]) }
            }
        }
    }

    /// `c = a @ bᵀ` by dot products, for `n` under one vector, summed as the vector kernels sum.
    static func narrowMatmulTransposedB(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, ldb: Int, into c: UnsafeMutablePointer<Float>, ldc: Int,
        m: Int, k: Int, n: Int, accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = accumulate ? c[i * ldc + j] : 0
                for p in 0..<k { sum = multiplyAdd(sum, a[i * k + p], b[j * ldb + p]) }
                c[i * ldc + j] = sum
            }
        }
    }

    // MARK: Scratch memory

    /// Per-thread memory for packed panels, kept for the thread's life: after the first call at a
    /// size, a thread's products allocate nothing.
    enum Scratch {
        /// The thread's buffer; its first 64 bytes hold its capacity in floats.
        static let key: pthread_key_t = {
            var key = pthread_key_t()
            pthread_key_create(&key) { free($0) }
            return key
        }()

        /// At least `count` floats, 64-byte aligned, valid until this thread's next call.
        static func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            if let buffer = pthread_getspecific(key), buffer.load(as: Int.self) >= count {
                return (buffer + 64).assumingMemoryBound(to: Float.self)
            }
            free(pthread_getspecific(key))
            var buffer: UnsafeMutableRawPointer?
            guard posix_memalign(&buffer, 64, 64 + count * MemoryLayout<Float>.stride) == 0, let buffer else {
                fatalError("cannot allocate \(count) floats of scratch memory")
            }
            buffer.storeBytes(of: count, as: Int.self)
            pthread_setspecific(key, buffer)
            return (buffer + 64).bindMemory(to: Float.self, capacity: count)
        }
    }
}

/// The plain, obviously correct form of each kernel: the definition the fast ones are tested against.
public enum ReferenceKernels {
    /// `c[i][j] = Σp a[i][p] · b[p][j]`, plus the old `c` when `accumulate`.
    public static func matmul<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int, accumulate: Bool = false
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: T = accumulate ? c[i * n + j] : 0
                for p in 0..<k { sum += a[i * k + p] * b[p * n + j] }
                c[i * n + j] = sum
            }
        }
    }

    /// `c[i][j] = Σp a[i][p] · b[j][p]`.
    public static func matmulTransposedB<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: T = 0
                for p in 0..<k { sum += a[i * k + p] * b[j * k + p] }
                c[i * n + j] = sum
            }
        }
    }

    /// `c[i][j] += Σp a[p][i] · b[p][j]`.
    public static func matmulTransposedA<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: T = c[i * n + j]
                for p in 0..<k { sum += a[p * m + i] * b[p * n + j] }
                c[i * n + j] = sum
            }
        }
    }
}
