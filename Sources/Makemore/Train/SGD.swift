/// Plain stochastic gradient descent, the lecture's update: `p -= learningRate · dp`.
public enum SGD {
    /// `p[i] -= learningRate · dp[i]` for the elements `elements` (all unless given) of `p` and `dp`,
    /// in row-major order.
    @inline(__always)
    public static func step<T: Scalar>(_ p: Tensor<T>, _ dp: Tensor<T>, learningRate: T, elements: Range<Int>? = nil) {
        let values = p.pointer, gradients = dp.pointer
        for i in elements ?? 0..<p.count { values[i] -= learningRate * gradients[i] }
    }

}
