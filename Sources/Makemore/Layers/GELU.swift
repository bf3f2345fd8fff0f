/// GELU in its tanh approximation (GPT-2's, makemore's `NewGELU`):
///
///     out = ½ x (1 + tanh u),    u = √(2/π) (x + 0.044715 x³)
///
/// `tanh u` runs sixteen lanes at a time (`Scalar.tanh(_:into:count:)`, `VectorMath` for Float):
/// one `tanhf` call per element cost more than all of the Transformer's matrix products. For
/// `Float`, forward and backward run on the C kernels of `KernelVariant.active`, the Swift loops
/// here being their reference (the same operations in the same order, so the same bits).
public enum GELU {
    /// `out = gelu(x)`, element by element, any shape.
    public static func forward<T: Scalar>(_ x: Tensor<T>, into out: Tensor<T>) {
        forward(x.pointer, into: out.pointer, tanh: out.pointer, count: x.count)
    }

    /// `out[i] = gelu(x[i])` for `i < count`, and `tanh[i] = tanh u[i]` (what the backward needs;
    /// `tanh` may be `out`, to keep nothing).
    static func forward<T: Scalar>(
        _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, tanh t: UnsafeMutablePointer<T>, count: Int
    ) {
        forward(kernels: .for(T.self), x, into: out, tanh: t, count: count)
    }

    /// `forward` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (the reference;
    /// its `tanh` is `T.tanh`, the active variant's for `Float`).
    static func forward<T: Scalar>(
        kernels: KernelVariant?, _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, tanh t: UnsafeMutablePointer<T>,
        count: Int
    ) {
        if let kernels {
            kernels.geluForward(x.floats, into: out.floats, tanh: t.floats, count: count)
            return
        }
        tanhOfU(x, into: t, count: count)
        for i in 0..<count { out[i] = T(0.5) * x[i] * (1 + t[i]) }
    }

    /// Adds `dx += dout · gelu'(x)`, with
    ///
    ///     gelu'(x) = ½ (1 + tanh u) + ½ x (1 - tanh² u) · √(2/π) (1 + 3·0.044715 x²)
    ///
    /// the product rule on `½ x · (1 + tanh u)`. Forward keeps nothing: `x` is the previous
    /// layer's output, kept anyway, and `tanh u` is computed again (a fast path keeps it).
    public static func backward<T: Scalar>(x: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>) {
        let chunk = 256
        withUnsafeTemporaryAllocation(of: T.self, capacity: chunk) { t in
            for start in stride(from: 0, to: x.count, by: chunk) {
                let n = Swift.min(chunk, x.count - start)
                tanhOfU(x.pointer + start, into: t.baseAddress!, count: n)
                backward(
                    x: x.pointer + start, tanh: t.baseAddress!, dOut: dOut.pointer + start, dX: dX.pointer + start, count: n,
                    accumulate: true)
            }
        }
    }

    /// `dx[i] += dout[i] · gelu'(x[i])` for `i < count` (or `=` unless `accumulate`), given
    /// `tanh[i] = tanh u[i]` from the forward.
    static func backward<T: Scalar>(
        x: UnsafePointer<T>, tanh t: UnsafePointer<T>, dOut: UnsafePointer<T>, dX: UnsafeMutablePointer<T>, count: Int,
        accumulate: Bool
    ) {
        backward(kernels: .for(T.self), x: x, tanh: t, dOut: dOut, dX: dX, count: count, accumulate: accumulate)
    }

    /// `backward` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (the reference).
    static func backward<T: Scalar>(
        kernels: KernelVariant?, x: UnsafePointer<T>, tanh t: UnsafePointer<T>, dOut: UnsafePointer<T>,
        dX: UnsafeMutablePointer<T>, count: Int, accumulate: Bool
    ) {
        if let kernels {
            kernels.geluBackward(x: x.floats, tanh: t.floats, dOut: dOut.floats, dX: dX.floats, count: count, accumulate: accumulate)
            return
        }
        for i in 0..<count {
            let v = x[i], ti = t[i]
            let du = T(sqrtTwoOverPi) * (1 + 3 * T(cubic) * v * v)
            let d = dOut[i] * (T(0.5) * (1 + ti) + T(0.5) * v * (1 - ti * ti) * du)
            dX[i] = accumulate ? dX[i] + d : d
        }
    }

    /// `t[i] = tanh(√(2/π) (x[i] + 0.044715 x[i]³))`; `t` may be `x`.
    static func tanhOfU<T: Scalar>(_ x: UnsafePointer<T>, into t: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count {
            let v = x[i]
            t[i] = T(sqrtTwoOverPi) * (v + T(cubic) * v * v * v)
        }
        T.tanh(t, into: t, count: count)
    }

    static let sqrtTwoOverPi = (2 / Double.pi).squareRoot()
    static let cubic = 0.044715
}
