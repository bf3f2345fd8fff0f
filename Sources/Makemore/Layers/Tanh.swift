/// `h = tanh(x)`.
public enum Tanh {
    /// `out = tanh(x)`, element by element; `x` and `out` have the same shape, `(n, features)`.
    public static func forward<T: Scalar>(_ x: Tensor<T>, into out: Tensor<T>) {
        T.tanh(x.pointer, into: out.pointer, count: x.count)
    }

    /// `dx = (1 - h²) · dh`: the derivative of tanh written with its output, which the forward kept.
    public static func backward<T: Scalar>(out: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>) {
        for i in 0..<out.count {
            let h = out.pointer[i]
            dX.pointer[i] = (1 - h * h) * dOut.pointer[i]
        }
    }

    /// `forward` on the columns `columns` of `(n, width)` tensors (a fast path's share of a layer).
    static func forward<T: Scalar>(_ x: Tensor<T>, into out: Tensor<T>, columns: Range<Int>) {
        for i in 0..<x.rows {
            let offset = i * x.columns + columns.lowerBound
            T.tanh(x.pointer + offset, into: out.pointer + offset, count: columns.count)
        }
    }

    /// `backward` on the columns `columns` of `(n, width)` tensors.
    static func backward<T: Scalar>(out: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>, columns: Range<Int>) {
        for i in 0..<out.rows {
            let offset = i * out.columns + columns.lowerBound
            let h = out.pointer + offset, d = dOut.pointer + offset, dx = dX.pointer + offset
            for j in 0..<columns.count { dx[j] = (1 - h[j] * h[j]) * d[j] }
        }
    }
}
