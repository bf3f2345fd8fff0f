/// The residual connection `out = x + f(x)`: its backward passes `dout` unchanged to both.
public enum Residual {
    /// `out = x + f`, element by element.
    public static func forward<T: Scalar>(_ x: Tensor<T>, _ f: Tensor<T>, into out: Tensor<T>) {
        for i in 0..<x.count { out[i] = x[i] + f[i] }
    }

    /// Adds `dx += dout`, `df += dout`.
    public static func backward<T: Scalar>(dOut: Tensor<T>, dX: Tensor<T>, dF: Tensor<T>) {
        for i in 0..<dOut.count {
            dX[i] += dOut[i]
            dF[i] += dOut[i]
        }
    }
}
