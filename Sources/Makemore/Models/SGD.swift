/// Plain stochastic gradient descent, the lecture's update: `p -= learningRate · dp`. It sits with
/// the models, below the trainer, because a model's `update` applies it and a fast path may fold it
/// into its backward.
public enum SGD {
    /// `p[i] -= learningRate · dp[i]` for the elements `elements` (all unless given) of `p` and `dp`,
    /// in row-major order.
    @inline(__always)
    public static func step<T: Scalar>(_ p: Tensor<T>, _ dp: Tensor<T>, learningRate: T, elements: Range<Int>? = nil) {
        let values = p.pointer, gradients = dp.pointer
        for i in elements ?? 0..<p.count { values[i] -= learningRate * gradients[i] }
    }

    /// The step on every trainable parameter of `table` (its running statistics stay).
    public static func step<T: Scalar>(_ table: ParameterTable<T>, learningRate: T) {
        let values = table.values.base, gradients = table.gradients.base
        for i in 0..<table.trainableCount { values[i] -= learningRate * gradients[i] }
    }
}
