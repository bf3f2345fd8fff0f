/// Reductions and updates over short contiguous vectors (a LayerNorm row, an attention head's
/// features), eight lanes at a time, for any `Scalar`.
///
/// A sum written as one loop is one chain of dependent additions, which the compiler may not
/// reorder; these keep eight partial sums, added together at the end (then a scalar tail), so
/// their order is fixed but not the plain loop's. Element-wise updates (`addProduct`) compute each
/// element exactly as the plain loop does.
enum Lanes {
    @inline(__always)
    static func load<T: Scalar>(_ p: UnsafePointer<T>) -> SIMD8<T> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<T>.self)
    }

    /// `Σj x[j]` for `j < n`.
    @inline(__always)
    static func sum<T: Scalar>(_ x: UnsafePointer<T>, _ n: Int) -> T {
        var lanes = SIMD8<T>()
        var j = 0
        while j + 8 <= n {
            lanes += load(x + j)
            j += 8
        }
        var total = lanes.sum()
        while j < n {
            total += x[j]
            j += 1
        }
        return total
    }

    /// `Σj (x[j] - m)²` for `j < n`.
    @inline(__always)
    static func squaredDeviations<T: Scalar>(_ x: UnsafePointer<T>, from m: T, _ n: Int) -> T {
        var lanes = SIMD8<T>()
        var j = 0
        while j + 8 <= n {
            let d = load(x + j) - m
            lanes += d * d
            j += 8
        }
        var total = lanes.sum()
        while j < n {
            total += (x[j] - m) * (x[j] - m)
            j += 1
        }
        return total
    }

    /// `Σj a[j] · b[j]` for `j < n`.
    @inline(__always)
    static func dot<T: Scalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ n: Int) -> T {
        var lanes = SIMD8<T>()
        var j = 0
        while j + 8 <= n {
            lanes += load(a + j) * load(b + j)
            j += 8
        }
        var total = lanes.sum()
        while j < n {
            total += a[j] * b[j]
            j += 1
        }
        return total
    }

    /// `y[j] += alpha · x[j]` for `j < n`.
    @inline(__always)
    static func addProduct<T: Scalar>(_ alpha: T, _ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, _ n: Int) {
        var j = 0
        while j + 8 <= n {
            let sum = load(y + j) + alpha * load(x + j)
            UnsafeMutableRawPointer(y + j).storeBytes(of: sum, as: SIMD8<T>.self)
            j += 8
        }
        while j < n {
            y[j] += alpha * x[j]
            j += 1
        }
    }
}
