/// GELU in its tanh approximation (GPT-2's, makemore's `NewGELU`):
///
///     out = ½ x (1 + tanh u),    u = √(2/π) (x + 0.044715 x³)
public enum GELU {
    /// `out = gelu(x)`, element by element, any shape.
    public static func forward<T: Scalar>(_ x: Tensor<T>, into out: Tensor<T>) {
        for i in 0..<x.count {
            let v = x[i]
            let u = T(sqrtTwoOverPi) * (v + T(cubic) * v * v * v)
            out[i] = T(0.5) * v * (1 + T.tanh(u))
        }
    }

    /// Adds `dx += dout · gelu'(x)`, with
    ///
    ///     gelu'(x) = ½ (1 + tanh u) + ½ x (1 - tanh² u) · √(2/π) (1 + 3·0.044715 x²)
    ///
    /// the product rule on `½ x · (1 + tanh u)`. Forward keeps nothing: `x` is the previous
    /// layer's output, kept anyway.
    public static func backward<T: Scalar>(x: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>) {
        for i in 0..<x.count {
            let v = x[i]
            let u = T(sqrtTwoOverPi) * (v + T(cubic) * v * v * v)
            let t = T.tanh(u)
            let du = T(sqrtTwoOverPi) * (1 + 3 * T(cubic) * v * v)
            dX[i] += dOut[i] * (T(0.5) * (1 + t) + T(0.5) * v * (1 - t * t) * du)
        }
    }

    static let sqrtTwoOverPi = (2 / Double.pi).squareRoot()
    static let cubic = 0.044715
}
