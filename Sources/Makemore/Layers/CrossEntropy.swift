/// Softmax cross-entropy, fused: the mean negative log-likelihood of the targets under
/// `softmax(logits)`, and its gradient in one expression.
///
/// The step-by-step chain it replaces (`logit_maxes`, `norm_logits`, `counts`, ...) is in
/// `StepByStep`; the gradient check holds the two equal.
public enum CrossEntropy {
    /// Writes `probs = softmax(logits)` row by row and returns the mean of `-log probs[i][targets[i]]`.
    public static func forward<T: Scalar>(
        logits: Tensor<T>, targets: UnsafePointer<Int32>, probs: Tensor<T>
    ) -> T {
        var total: T = 0
        for i in 0..<logits.rows { total += rowLoss(logits: logits, targets: targets, probs: probs, row: i) }
        return total / T(logits.rows)
    }

    /// Writes row `i` of `probs = softmax(logits)` and returns `-log probs[i][targets[i]]`.
    ///
    /// The row maximum is subtracted before `exp` so that it cannot overflow; the loss of a row
    /// is `log Σ exp(z - max) - (z[target] - max)`, which stays finite when a probability
    /// underflows to zero.
    @inline(__always)
    public static func rowLoss<T: Scalar>(logits: Tensor<T>, targets: UnsafePointer<Int32>, probs: Tensor<T>, row i: Int) -> T {
        let v = logits.columns
        let z = logits.pointer + i * v, p = probs.pointer + i * v
        var maximum = z[0]
        for j in 1..<v where z[j] > maximum { maximum = z[j] }
        let sum = T.exp(z, minus: maximum, into: p, count: v)
        let inverse = 1 / sum
        for j in 0..<v { p[j] *= inverse }
        return T.log(sum) - (z[Int(targets[i])] - maximum)
    }

    /// `dlogits = (probs - onehot(targets)) / n`, on all rows or on `rows`; `n` is the batch size,
    /// `probs.rows`.
    public static func backward<T: Scalar>(
        probs: Tensor<T>, targets: UnsafePointer<Int32>, dLogits: Tensor<T>, rows: Range<Int>? = nil
    ) {
        let n = probs.rows, v = probs.columns
        let scale = 1 / T(n)
        for i in rows ?? 0..<n {
            let p = probs.pointer + i * v, d = dLogits.pointer + i * v
            for j in 0..<v { d[j] = p[j] * scale }
            d[Int(targets[i])] -= scale
        }
    }
}
