/// Layer normalisation, PyTorch's `nn.LayerNorm(width, eps)`: each row `x (width)` normalised by
/// its own mean and (biased) variance, then scaled and shifted feature by feature.
///
///     mean = Σj x[j] / C                            (C = width)
///     rstd = 1 / √(Σj (x[j] - mean)² / C + eps)
///     xhat = (x - mean) · rstd
///     out  = weight · xhat + bias
///
/// Unlike batch-norm, rows do not interact: there are no running statistics and no training
/// mode. Forward keeps `mean` and `rstd` (one number each per row, small); the backward recomputes
/// `xhat` from `x`, which the caller keeps anyway (the residual stream).
public struct LayerNorm<T: Scalar> {
    /// `[width]` each.
    public let weight, bias: Tensor<T>
    /// `[width]` each: the gradients of `weight` and `bias`, which the backward adds into.
    public let dWeight, dBias: Tensor<T>
    /// Added to the variance before the square root (PyTorch's 1e-5).
    public let epsilon: T

    /// A LayerNorm over views of a parameter table: the values and, in the same layout, the gradients.
    public init(weight: Tensor<T>, bias: Tensor<T>, dWeight: Tensor<T>, dBias: Tensor<T>, epsilon: T) {
        self.weight = weight
        self.bias = bias
        self.dWeight = dWeight
        self.dBias = dBias
        self.epsilon = epsilon
    }

    /// PyTorch's default: weight 1, bias 0 (draws nothing).
    public func initialize() {
        weight.fill(1)
        bias.fill(0)
    }

    /// `out (n, C) = LayerNorm(x (n, C))`; writes `mean [n]` and `rstd [n]` for the backward.
    public func forward(_ x: Tensor<T>, into out: Tensor<T>, mean: Tensor<T>, rstd: Tensor<T>) {
        let c = x.columns
        for r in 0..<x.rows {
            let row = x.pointer + r * c, o = out.pointer + r * c
            var sum: T = 0
            for j in 0..<c { sum += row[j] }
            let m = sum / T(c)
            var squares: T = 0
            for j in 0..<c { squares += (row[j] - m) * (row[j] - m) }
            let s = 1 / (squares / T(c) + epsilon).squareRoot()
            for j in 0..<c { o[j] = weight[j] * ((row[j] - m) * s) + bias[j] }
            mean[r] = m
            rstd[r] = s
        }
    }

    /// Given `dOut (n, C)`, adds, row by row:
    ///
    ///     dbias   += dout                                          (summed over rows)
    ///     dweight += dout · xhat                                   (summed over rows)
    ///     dxhat    = dout · weight
    ///     dx      += rstd · (dxhat - mean(dxhat) - xhat · mean(dxhat · xhat))
    ///
    /// The last line is the chain rule through `mean` and `rstd`, which every `x[j]` of the row
    /// feeds: `-mean(dxhat)` through the mean, `-xhat · mean(dxhat · xhat)` through the variance.
    public func backward(x: Tensor<T>, mean: Tensor<T>, rstd: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>) {
        let c = x.columns
        for r in 0..<x.rows {
            let row = x.pointer + r * c, d = dOut.pointer + r * c, dx = dX.pointer + r * c
            let m = mean[r], s = rstd[r]
            var dxhatMean: T = 0, dxhatXhatMean: T = 0
            for j in 0..<c {
                let xhat = (row[j] - m) * s, dxhat = d[j] * weight[j]
                dxhatMean += dxhat
                dxhatXhatMean += dxhat * xhat
            }
            dxhatMean /= T(c)
            dxhatXhatMean /= T(c)
            for j in 0..<c {
                let xhat = (row[j] - m) * s, dxhat = d[j] * weight[j]
                dBias[j] += d[j]
                dWeight[j] += d[j] * xhat
                dx[j] += s * (dxhat - dxhatMean - xhat * dxhatXhatMean)
            }
        }
    }
}
