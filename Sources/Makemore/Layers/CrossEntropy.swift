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
        let n = logits.rows
        let losses = UnsafeMutablePointer<T>.allocate(capacity: n)
        defer { losses.deallocate() }
        forward(logits: logits, targets: targets, probs: probs, rows: 0..<n, losses: losses)
        var total: T = 0
        for i in 0..<n { total += losses[i] }
        return total / T(n)
    }

    /// Writes rows `rows` of `probs = softmax(logits)` and `losses[i] = -log probs[i][targets[i]]`
    /// for `i` in `rows`.
    ///
    /// The row maximum is subtracted before `exp` so that it cannot overflow; the loss of a row
    /// is `log Σ exp(z - max) - (z[target] - max)`, which stays finite when a probability
    /// underflows to zero. The shifted rows are exponentiated in one pass over all the rows,
    /// which keeps the vector lanes full when a row (27 letters) is not a multiple of their width.
    ///
    /// `Float` runs the C kernels of `KernelVariant.active`, the same loops (same bits).
    public static func forward<T: Scalar>(
        logits: Tensor<T>, targets: UnsafePointer<Int32>, probs: Tensor<T>, rows: Range<Int>,
        losses: UnsafeMutablePointer<T>
    ) {
        forward(kernels: .for(T.self), logits: logits, targets: targets, probs: probs, rows: rows, losses: losses)
    }

    /// `forward(rows:)` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (its reference).
    static func forward<T: Scalar>(
        kernels: KernelVariant?, logits: Tensor<T>, targets: UnsafePointer<Int32>, probs: Tensor<T>, rows: Range<Int>,
        losses: UnsafeMutablePointer<T>
    ) {
        let v = logits.columns
        guard !rows.isEmpty else { return }
        if let kernels {
            let first = rows.lowerBound * v
            kernels.crossEntropyForward(
                logits: UnsafePointer(logits.pointer + first).floats, targets: targets + rows.lowerBound,
                probs: (probs.pointer + first).floats, losses: (losses + rows.lowerBound).floats, rows: rows.count,
                columns: v)
            return
        }
        for i in rows {
            let z = logits.pointer + i * v, p = probs.pointer + i * v
            var maximum = z[0]
            for j in 1..<v where z[j] > maximum { maximum = z[j] }
            for j in 0..<v { p[j] = z[j] - maximum }
            losses[i] = -p[Int(targets[i])]
        }
        let shifted = probs.pointer + rows.lowerBound * v
        T.exp(shifted, into: shifted, count: rows.count * v)
        for i in rows {
            let p = probs.pointer + i * v
            var sum: T = 0
            for j in 0..<v { sum += p[j] }
            let inverse = 1 / sum
            for j in 0..<v { p[j] *= inverse }
            losses[i] += T.log(sum)
        }
    }

    /// `dlogits = (probs - onehot(targets)) / n`, on all rows or on `rows`; `n` is the batch size,
    /// `probs.rows`.
    public static func backward<T: Scalar>(
        probs: Tensor<T>, targets: UnsafePointer<Int32>, dLogits: Tensor<T>, rows: Range<Int>? = nil
    ) {
        backward(kernels: .for(T.self), probs: probs, targets: targets, dLogits: dLogits, rows: rows)
    }

    /// `backward` on rows `rows` of a batch of `count` rows (which may be fewer than `probs.rows`,
    /// buffers sized for the largest batch).
    static func backward<T: Scalar>(
        probs: Tensor<T>, targets: UnsafePointer<Int32>, dLogits: Tensor<T>, rows: Range<Int>, count: Int
    ) {
        backward(kernels: .for(T.self), probs: probs, targets: targets, dLogits: dLogits, rows: rows, count: count)
    }

    /// `backward` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (its reference);
    /// `count` is the batch size (`probs.rows` unless given).
    static func backward<T: Scalar>(
        kernels: KernelVariant?, probs: Tensor<T>, targets: UnsafePointer<Int32>, dLogits: Tensor<T>, rows: Range<Int>?,
        count: Int? = nil
    ) {
        let n = count ?? probs.rows, v = probs.columns
        let scale = 1 / T(n)
        if let kernels {
            let rows = rows ?? 0..<n, first = rows.lowerBound * v
            kernels.crossEntropyBackward(
                probs: UnsafePointer(probs.pointer + first).floats, targets: targets + rows.lowerBound,
                dLogits: (dLogits.pointer + first).floats, rows: rows.count, columns: v, scale: Float(scale))
            return
        }
        for i in rows ?? 0..<n {
            let p = probs.pointer + i * v, d = dLogits.pointer + i * v
            for j in 0..<v { d[j] = p[j] * scale }
            d[Int(targets[i])] -= scale
        }
    }
}
