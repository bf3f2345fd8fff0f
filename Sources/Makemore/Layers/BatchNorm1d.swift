/// Batch normalisation over the rows of a `(n, features)` batch, as in the lecture:
///
///     mean  = 1/n     Σ x                     (over the batch)
///     var   = 1/(n-1) Σ (x - mean)²           (Bessel's correction)
///     xhat  = (x - mean) / √(var + eps)
///     out   = gain · xhat + bias
///
/// In training the running statistics move towards the batch ones by `momentum`; in evaluation
/// they take the place of the batch statistics.
public struct BatchNorm1d<T: Scalar> {
    /// The scale applied to `xhat`, `(1, features)` (the lecture's `bngain`).
    public let gain: Tensor<T>
    /// The shift added after the scale, `(1, features)` (`bnbias`).
    public let bias: Tensor<T>
    /// The running mean, `(1, features)` (`bnmean`): used in evaluation, not trained.
    public let runningMean: Tensor<T>
    /// The running variance, `(1, features)` (`bnvar`): used in evaluation, not trained.
    public let runningVariance: Tensor<T>
    /// The gradient of the loss with respect to `gain`, `(1, features)`, written by `backward`.
    public let dGain: Tensor<T>
    /// The gradient of the loss with respect to `bias`, `(1, features)`, written by `backward`.
    public let dBias: Tensor<T>
    /// Added to the variance before the square root (PyTorch's `eps`, 1e-5 by default).
    public let epsilon: T
    /// How far the running statistics move towards each batch's:
    /// `running = (1 - momentum) · running + momentum · batch`.
    public let momentum: T

    /// A layer over these tensors (views into a model's parameter table; nothing is copied).
    public init(
        gain: Tensor<T>, bias: Tensor<T>, runningMean: Tensor<T>, runningVariance: Tensor<T>,
        dGain: Tensor<T>, dBias: Tensor<T>, epsilon: T, momentum: T
    ) {
        self.gain = gain
        self.bias = bias
        self.runningMean = runningMean
        self.runningVariance = runningVariance
        self.dGain = dGain
        self.dBias = dBias
        self.epsilon = epsilon
        self.momentum = momentum
    }

    /// Number of features normalised: the columns of the input.
    public var featureCount: Int { gain.count }

    /// `gain ~ 1 + gainScale · N(0, 1)`, then `bias ~ biasScale · N(0, 1)` (the lecture's
    /// non-trivial values; with scales 0, PyTorch's 1 and 0, drawing nothing); running mean 0 and
    /// running variance 1.
    public func initialize(gainScale: Double, biasScale: Double, using generator: inout SeededGenerator) {
        if gainScale == 0 { gain.fill(1) } else { gain.fillNormal(scale: gainScale, shift: 1, using: &generator) }
        if biasScale == 0 { bias.fill(0) } else { bias.fillNormal(scale: biasScale, using: &generator) }
        runningMean.fill(0)
        runningVariance.fill(1)
    }

    /// Training forward with the batch's statistics.
    ///
    /// Keeps for the backward `xhat (n, features)` and `inverseStd [features] = (var + eps)^-½`:
    /// the backward needs both, and recomputing them would cost another pass over the batch.
    ///
    /// With `features`, only those columns of the `(n, featureCount)` tensors are computed (and
    /// those running statistics updated): each feature is normalised on its own, so a fast path
    /// may share a layer's features between threads.
    ///
    /// `Float` runs the C kernels of `KernelVariant.active`, the same loops as
    /// `plainForwardTraining` (same bits), vectorized for the processor.
    public func forwardTraining(
        _ x: Tensor<T>, into out: Tensor<T>, xhat: Tensor<T>, inverseStd: Tensor<T>,
        updatingRunningStatistics: Bool = true, features: Range<Int>? = nil
    ) {
        if T.self == Float.self {
            forwardTraining(
                kernels: .active, x, into: out, xhat: xhat, inverseStd: inverseStd,
                updatingRunningStatistics: updatingRunningStatistics, features: features)
        } else {
            plainForwardTraining(
                x, into: out, xhat: xhat, inverseStd: inverseStd, updatingRunningStatistics: updatingRunningStatistics,
                features: features)
        }
    }

    /// `forwardTraining` for `Float` on the C kernels of `kernels`.
    func forwardTraining(
        kernels: KernelVariant, _ x: Tensor<T>, into out: Tensor<T>, xhat: Tensor<T>, inverseStd: Tensor<T>,
        updatingRunningStatistics: Bool, features: Range<Int>?
    ) {
        let n = x.rows, f = featureCount, columns = features ?? 0..<f, c = columns.lowerBound
        precondition(n >= 2, "batch-norm training needs at least two examples")
        kernels.batchNormForward(
            floats(x.pointer + c), into: floats(out.pointer + c), xhat: floats(xhat.pointer + c),
            inverseStd: floats(inverseStd.pointer + c), gain: floats(gain.pointer + c), bias: floats(bias.pointer + c),
            runningMean: floats(runningMean.pointer + c), runningVariance: floats(runningVariance.pointer + c),
            rows: n, stride: f, features: columns.count, epsilon: Float(epsilon), momentum: Float(momentum),
            updatingRunningStatistics: updatingRunningStatistics)
    }

    /// `forwardTraining` in plain Swift loops: the `Double` path, and the reference of the `Float` one.
    func plainForwardTraining(
        _ x: Tensor<T>, into out: Tensor<T>, xhat: Tensor<T>, inverseStd: Tensor<T>,
        updatingRunningStatistics: Bool, features: Range<Int>?
    ) {
        let n = x.rows, f = featureCount, columns = features ?? 0..<f, w = columns.count, c = columns.lowerBound
        precondition(n >= 2, "batch-norm training needs at least two examples")
        // Loops run along the features of one row at a time (`row[j]`), which the compiler
        // vectorizes; the mean lives in the first row of xhat until that row is overwritten.
        let mean = xhat.pointer + c, variance = inverseStd.pointer + c
        let gain = gain.pointer + c, bias = bias.pointer + c
        let runningMean = runningMean.pointer + c, runningVariance = runningVariance.pointer + c
        mean.update(repeating: 0, count: w)
        variance.update(repeating: 0, count: w)
        for i in 0..<n {
            let row = x.pointer + i * f + c
            for j in 0..<w { mean[j] += row[j] }
        }
        for j in 0..<w { mean[j] /= T(n) }
        for i in 0..<n {
            let row = x.pointer + i * f + c
            for j in 0..<w { variance[j] += (row[j] - mean[j]) * (row[j] - mean[j]) }
        }
        for j in 0..<w { variance[j] /= T(n - 1) }
        if updatingRunningStatistics {
            for j in 0..<w {
                runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mean[j]
                runningVariance[j] = (1 - momentum) * runningVariance[j] + momentum * variance[j]
            }
        }
        for j in 0..<w { variance[j] = 1 / (variance[j] + epsilon).squareRoot() }  // now the inverse std
        // Row 0 last: it holds the mean the other rows subtract.
        for i in (0..<n).reversed() {
            let row = x.pointer + i * f + c, normalizedRow = xhat.pointer + i * f + c, outRow = out.pointer + i * f + c
            for j in 0..<w {
                let normalized = (row[j] - mean[j]) * variance[j]
                normalizedRow[j] = normalized
                outRow[j] = gain[j] * normalized + bias[j]
            }
        }
    }

    /// Evaluation forward: the running statistics in place of the batch's.
    public func forwardEvaluation(_ x: Tensor<T>, into out: Tensor<T>) {
        let n = x.rows, f = featureCount
        for i in 0..<n {
            for j in 0..<f {
                let inverseStd = 1 / (runningVariance.pointer[j] + epsilon).squareRoot()
                out.pointer[i * f + j] =
                    gain.pointer[j] * (x.pointer[i * f + j] - runningMean.pointer[j]) * inverseStd + bias.pointer[j]
            }
        }
    }

    /// The fused backward, the whole chain of the step-by-step one in one expression:
    ///
    ///     dgain  = Σ dout · xhat
    ///     dbias  = Σ dout
    ///     dx     = gain · invstd / n · (n · dout - Σ dout - n/(n-1) · xhat · Σ (dout · xhat))
    ///
    /// (sums over the batch; the n/(n-1) is Bessel's correction carried through).
    ///
    /// `scratch (3, features)` holds the sums and per-feature factors. With `features`, only those
    /// columns are computed, as in `forwardTraining`.
    ///
    /// `Float` runs the C kernels of `KernelVariant.active`, the same loops as `plainBackward`.
    public func backward(
        dOut: Tensor<T>, xhat: Tensor<T>, inverseStd: Tensor<T>, dX: Tensor<T>, scratch: Tensor<T>,
        features: Range<Int>? = nil
    ) {
        if T.self == Float.self {
            backward(kernels: .active, dOut: dOut, xhat: xhat, inverseStd: inverseStd, dX: dX, scratch: scratch, features: features)
        } else {
            plainBackward(dOut: dOut, xhat: xhat, inverseStd: inverseStd, dX: dX, scratch: scratch, features: features)
        }
    }

    /// `backward` for `Float` on the C kernels of `kernels`.
    func backward(
        kernels: KernelVariant, dOut: Tensor<T>, xhat: Tensor<T>, inverseStd: Tensor<T>, dX: Tensor<T>,
        scratch: Tensor<T>, features: Range<Int>?
    ) {
        let n = dOut.rows, f = featureCount, columns = features ?? 0..<f, c = columns.lowerBound
        kernels.batchNormBackward(
            dOut: floats(dOut.pointer + c), xhat: floats(xhat.pointer + c), inverseStd: floats(inverseStd.pointer + c),
            gain: floats(gain.pointer + c), dGain: floats(dGain.pointer + c), dBias: floats(dBias.pointer + c),
            sumDOut: floats(scratch.pointer + c), sumDXhat: floats(scratch.pointer + f + c),
            scale: floats(scratch.pointer + 2 * f + c), dX: floats(dX.pointer + c), rows: n, stride: f,
            features: columns.count)
    }

    /// `backward` in plain Swift loops: the `Double` path, and the reference of the `Float` one.
    func plainBackward(
        dOut: Tensor<T>, xhat: Tensor<T>, inverseStd: Tensor<T>, dX: Tensor<T>, scratch: Tensor<T>,
        features: Range<Int>?
    ) {
        let n = dOut.rows, f = featureCount, columns = features ?? 0..<f, w = columns.count, c = columns.lowerBound
        let sumDOut = scratch.pointer + c, sumDXhat = scratch.pointer + f + c, scale = scratch.pointer + 2 * f + c
        let gain = gain.pointer + c, inverseStd = inverseStd.pointer + c, dGain = dGain.pointer + c, dBias = dBias.pointer + c
        sumDOut.update(repeating: 0, count: w)
        sumDXhat.update(repeating: 0, count: w)
        for i in 0..<n {
            let d = dOut.pointer + i * f + c, normalized = xhat.pointer + i * f + c
            for j in 0..<w {
                sumDOut[j] += d[j]
                sumDXhat[j] += d[j] * normalized[j]
            }
        }
        // dx = a·dout - b - c·xhat with, per feature, a = gain·invstd, b = a/n · Σ dout,
        // c = a/(n-1) · Σ dout·xhat: the expression above multiplied out.
        for j in 0..<w {
            dGain[j] = sumDXhat[j]
            dBias[j] = sumDOut[j]
            scale[j] = gain[j] * inverseStd[j]
            sumDOut[j] *= scale[j] / T(n)
            sumDXhat[j] *= scale[j] / T(n - 1)
        }
        for i in 0..<n {
            let d = dOut.pointer + i * f + c, normalized = xhat.pointer + i * f + c, dRow = dX.pointer + i * f + c
            for j in 0..<w { dRow[j] = scale[j] * d[j] - sumDOut[j] - sumDXhat[j] * normalized[j] }
        }
    }

    /// The same pointer seen as `Float`, for `T == Float`.
    @inline(__always) private func floats(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }

    /// The lecture's calibration: running statistics replaced by the statistics of a whole data
    /// set, passed through in chunks. `add` accumulates Σx and Σx² of each feature in Double;
    /// `store` writes the mean and the variance with Bessel's correction.
    struct Calibration {
        private var sum: [Double], sumOfSquares: [Double], count = 0.0

        init(features: Int) {
            sum = [Double](repeating: 0, count: features)
            sumOfSquares = sum
        }

        /// Adds the rows of `x (n, features)`.
        mutating func add(_ x: Tensor<T>) {
            let f = sum.count
            for i in 0..<x.rows {
                for j in 0..<f {
                    let value = Double(x[i, j])
                    sum[j] += value
                    sumOfSquares[j] += value * value
                }
            }
            count += Double(x.rows)
        }

        /// Sets the running statistics of `batchNorm` to the mean and (unbiased) variance of all rows added.
        func store(into batchNorm: BatchNorm1d) {
            for j in 0..<sum.count {
                let mean = sum[j] / count
                batchNorm.runningMean[j] = T(mean)
                batchNorm.runningVariance[j] = T(Swift.max(0, (sumOfSquares[j] - count * mean * mean) / (count - 1)))
            }
        }
    }
}
