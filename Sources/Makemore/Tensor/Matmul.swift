import Foundation

/// Matrix products on row-major storage, in the three forms a Linear layer needs:
///
///     forward            out   = x @ W          matmul              (m,k) @ (k,n)
///     input gradient     dx    = dout @ Wᵀ      matmulTransposedB   (m,k) @ (n,k)ᵀ
///     weight gradient    dW   += xᵀ @ dout      matmulTransposedA   (k,m)ᵀ @ (k,n)
///
/// `Float` products run on the register-blocked SIMD kernels in C (`CMakemoreKernels`, built for
/// each instruction set and picked at run time: `KernelVariant`), other scalars on plain loops,
/// all on the calling thread (`MLPFastStep` shares a step's products between
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
            KernelVariant.active.matmul(
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
            KernelVariant.active.matmulTransposedB(
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
            KernelVariant.active.matmulTransposedA(
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
