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
    /// `(1, features)` each.
    public let gain: Tensor<T>
    public let bias: Tensor<T>
    public let runningMean: Tensor<T>
    public let runningVariance: Tensor<T>
    public let dGain: Tensor<T>
    public let dBias: Tensor<T>
    public let epsilon: T
    public let momentum: T

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

    public var featureCount: Int { gain.count }

    /// Training forward with the batch's statistics.
    ///
    /// Keeps for the backward `xhat (n, features)` and `inverseStd [features] = (var + eps)^-½`:
    /// the backward needs both, and recomputing them would cost another pass over the batch.
    public func forwardTraining(
        _ x: Tensor<T>, into out: Tensor<T>, xhat: Tensor<T>, inverseStd: Tensor<T>,
        updatingRunningStatistics: Bool = true
    ) {
        let n = x.rows, f = featureCount
        precondition(n >= 2, "batch-norm training needs at least two examples")
        let mean = xhat.pointer  // the first row of xhat holds the mean until it is overwritten
        let variance = inverseStd.pointer
        for j in 0..<f { mean[j] = 0; variance[j] = 0 }
        for i in 0..<n { for j in 0..<f { mean[j] += x.pointer[i * f + j] } }
        for j in 0..<f { mean[j] /= T(n) }
        for i in 0..<n {
            for j in 0..<f {
                let d = x.pointer[i * f + j] - mean[j]
                variance[j] += d * d
            }
        }
        for j in 0..<f { variance[j] /= T(n - 1) }
        if updatingRunningStatistics {
            for j in 0..<f {
                runningMean.pointer[j] = (1 - momentum) * runningMean.pointer[j] + momentum * mean[j]
                runningVariance.pointer[j] = (1 - momentum) * runningVariance.pointer[j] + momentum * variance[j]
            }
        }
        for j in 0..<f { variance[j] = 1 / (variance[j] + epsilon).squareRoot() }  // now the inverse std
        // Row 0 last: it holds the mean the other rows subtract.
        for i in (0..<n).reversed() {
            for j in 0..<f {
                let normalized = (x.pointer[i * f + j] - mean[j]) * variance[j]
                xhat.pointer[i * f + j] = normalized
                out.pointer[i * f + j] = gain.pointer[j] * normalized + bias.pointer[j]
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
    ///     dgain += Σ dout · xhat
    ///     dbias += Σ dout
    ///     dx     = gain · invstd / n · (n · dout - Σ dout - n/(n-1) · xhat · Σ (dout · xhat))
    ///
    /// (sums over the batch; the n/(n-1) is Bessel's correction carried through).
    ///
    /// `sums (2, features)` is scratch space for the two sums.
    public func backward(dOut: Tensor<T>, xhat: Tensor<T>, inverseStd: Tensor<T>, dX: Tensor<T>, sums: Tensor<T>) {
        let n = dOut.rows, f = featureCount
        let nT = T(n), bessel = T(n) / T(n - 1)
        let sumDOut = sums.pointer, sumDXhat = sums.pointer + f
        for j in 0..<f { sumDOut[j] = 0; sumDXhat[j] = 0 }
        for i in 0..<n {
            for j in 0..<f {
                let d = dOut.pointer[i * f + j]
                sumDOut[j] += d
                sumDXhat[j] += d * xhat.pointer[i * f + j]
            }
        }
        for j in 0..<f {
            dGain.pointer[j] += sumDXhat[j]
            dBias.pointer[j] += sumDOut[j]
        }
        for i in 0..<n {
            for j in 0..<f {
                let scale = gain.pointer[j] * inverseStd.pointer[j] / nT
                dX.pointer[i * f + j] =
                    scale * (nT * dOut.pointer[i * f + j] - sumDOut[j] - bessel * xhat.pointer[i * f + j] * sumDXhat[j])
            }
        }
    }
}
