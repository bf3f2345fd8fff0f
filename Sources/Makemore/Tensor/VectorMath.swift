/// `exp` and `tanh` over arrays of `Float`, sixteen lanes at a time: the element-wise steps that
/// the C library would otherwise do one call per element (at the lecture's shape, 6,400 `tanhf`
/// calls a step cost more than all the matrix products).
///
/// Both are Cephes' single-precision algorithms, within 1 ulp of the correctly rounded result
/// over the ranges used here (checked against Double in the tests), run by the C kernels of
/// `KernelVariant.active` (Sources/CMakemoreKernels/KernelBody.h).
public enum VectorMath {
    /// `out[i] = exp(x[i] - shift)` for `i < count`; returns the sum of the results.
    public static func exp(_ x: UnsafePointer<Float>, minus shift: Float, into out: UnsafeMutablePointer<Float>, count: Int) -> Float {
        KernelVariant.active.exp(x, minus: shift, into: out, count: count)
    }

    /// `out[i] = tanh(x[i])` for `i < count`.
    public static func tanh(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        KernelVariant.active.tanh(x, into: out, count: count)
    }

    /// `total[i] += x[i]` for `i < count`: on the C kernels of `KernelVariant.active` for `Float`.
    static func add<T: Scalar>(_ x: UnsafePointer<T>, into total: UnsafeMutablePointer<T>, count: Int) {
        add(kernels: .for(T.self), x, into: total, count: count)
    }

    /// `add` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (its reference).
    static func add<T: Scalar>(kernels: KernelVariant?, _ x: UnsafePointer<T>, into total: UnsafeMutablePointer<T>, count: Int) {
        if let kernels {
            kernels.add(x.floats, into: total.floats, count: count)
            return
        }
        for i in 0..<count { total[i] += x[i] }
    }
}
