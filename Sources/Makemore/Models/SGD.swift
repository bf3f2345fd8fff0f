/// Plain stochastic gradient descent, the lecture's update: `p -= learningRate · dp`. It sits with
/// the models, below the trainer, because a model's `update` applies it and a fast path may fold it
/// into its backward.
public enum SGD {
    /// `p[i] -= learningRate · dp[i]` for the elements `elements` (all unless given) of `p` and `dp`,
    /// in row-major order.
    public static func step<T: Scalar>(_ p: Tensor<T>, _ dp: Tensor<T>, learningRate: T, elements: Range<Int>? = nil) {
        let elements = elements ?? 0..<p.count
        step(kernels: .for(T.self), p.pointer + elements.lowerBound, dp.pointer + elements.lowerBound,
             learningRate: learningRate, count: elements.count)
    }

    /// The step on every trainable parameter of `table` (its running statistics stay).
    public static func step<T: Scalar>(_ table: ParameterTable<T>, learningRate: T) {
        step(kernels: .for(T.self), table.values.base, table.gradients.base, learningRate: learningRate,
             count: table.trainableCount)
    }

    /// `values[i] -= learningRate · gradients[i]` for `i < count` (a multiply, then a subtraction), on
    /// the C kernels of `kernels` (`Float`), or in plain Swift when nil (the reference).
    static func step<T: Scalar>(
        kernels: KernelVariant?, _ values: UnsafeMutablePointer<T>, _ gradients: UnsafeMutablePointer<T>,
        learningRate: T, count: Int
    ) {
        if let kernels {
            kernels.sgdStep(values.floats, UnsafePointer(gradients).floats, learningRate: Float(learningRate), count: count)
            return
        }
        for i in 0..<count { values[i] -= learningRate * gradients[i] }
    }
}
