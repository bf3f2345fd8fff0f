/// `h = tanh(x)`.
public enum Tanh {
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
}
