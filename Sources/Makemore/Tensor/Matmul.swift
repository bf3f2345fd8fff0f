/// Matrix products on row-major storage, in the three forms a Linear layer needs:
///
///     forward            out   = x @ W          matmul              (m,k) @ (k,n)
///     input gradient     dx    = dout @ Wᵀ      matmulTransposedB   (m,k) @ (n,k)ᵀ
///     weight gradient    dW   += xᵀ @ dout      matmulTransposedA   (k,m)ᵀ @ (k,n)
///
/// Each has a plain reference in `ReferenceKernels`, held equal by the tests.
public enum Kernels {
    /// `c (m,n) = a (m,k) @ b (k,n)`, or `c += a @ b` when `accumulate`.
    public static func matmul<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int, accumulate: Bool = false
    ) {
        if !accumulate { c.update(repeating: 0, count: m * n) }
        // i-p-j order: the inner loop runs along contiguous rows of b and c.
        for i in 0..<m {
            let cRow = c + i * n
            for p in 0..<k {
                let aip = a[i * k + p]
                let bRow = b + p * n
                for j in 0..<n { cRow[j] += aip * bRow[j] }
            }
        }
    }

    /// `c (m,n) = a (m,k) @ bᵀ` where `b` is stored `(n,k)`.
    public static func matmulTransposedB<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int
    ) {
        // Each element is a dot product of two contiguous rows.
        for i in 0..<m {
            let aRow = a + i * k
            for j in 0..<n {
                let bRow = b + j * k
                var sum: T = 0
                for p in 0..<k { sum += aRow[p] * bRow[p] }
                c[i * n + j] = sum
            }
        }
    }

    /// `c (m,n) += aᵀ @ b` where `a` is stored `(k,m)` and `b` is `(k,n)`.
    public static func matmulTransposedA<T: Scalar>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
        m: Int, k: Int, n: Int
    ) {
        for p in 0..<k {
            let aRow = a + p * m
            let bRow = b + p * n
            for i in 0..<m {
                let api = aRow[i]
                let cRow = c + i * n
                for j in 0..<n { cRow[j] += api * bRow[j] }
            }
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
