/// `h = tanh(x)`.
public enum Tanh {
    /// `out = tanh(x)`, element by element; `x` and `out` have the same shape, `(n, features)`.
    public static func forward<T: Scalar>(_ x: Tensor<T>, into out: Tensor<T>) {
        T.tanh(x.pointer, into: out.pointer, count: x.count)
    }

    /// `dx = (1 - h²) · dh`: the derivative of tanh written with its output, which the forward kept.
    public static func backward<T: Scalar>(out: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>) {
        backward(kernels: .for(T.self), out: out, dOut: dOut, dX: dX, columns: 0..<out.columns)
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
        backward(kernels: .for(T.self), out: out, dOut: dOut, dX: dX, columns: columns)
    }

    /// `backward(columns:)` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (the
    /// reference); element by element, so on all columns it is the whole tensor's backward.
    static func backward<T: Scalar>(
        kernels: KernelVariant?, out: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>, columns: Range<Int>
    ) {
        if let kernels {
            let offset = columns.lowerBound
            kernels.tanhBackward(
                out: UnsafePointer(out.pointer + offset).floats, dOut: UnsafePointer(dOut.pointer + offset).floats,
                dX: (dX.pointer + offset).floats, rows: out.rows, stride: out.columns, width: columns.count)
            return
        }
        for i in 0..<out.rows {
            let offset = i * out.columns + columns.lowerBound
            let h = out.pointer + offset, d = dOut.pointer + offset, dx = dX.pointer + offset
            for j in 0..<columns.count { dx[j] = (1 - h[j] * h[j]) * d[j] }
        }
    }
}
