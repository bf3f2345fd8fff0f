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
        forward(x.pointer, into: out.pointer, mean: mean.pointer, rstd: rstd.pointer, rows: 0..<x.rows)
    }

    /// `forward` on rows `rows` of `x (·, C)`, `out (·, C)`, `mean [·]`, `rstd [·]` (a fast path's share).
    func forward(
        _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, mean: UnsafeMutablePointer<T>,
        rstd: UnsafeMutablePointer<T>, rows: Range<Int>
    ) {
        forward(kernels: .for(T.self), x, into: out, mean: mean, rstd: rstd, rows: rows)
    }

    /// That `forward` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (the
    /// reference: the same operations in the same order, so the same bits).
    func forward(
        kernels: KernelVariant?, _ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, mean: UnsafeMutablePointer<T>,
        rstd: UnsafeMutablePointer<T>, rows: Range<Int>
    ) {
        let c = weight.count, w = weight.pointer, b = bias.pointer
        if let kernels {
            let first = rows.lowerBound
            kernels.layerNormForward(
                (x + first * c).floats, into: (out + first * c).floats, mean: (mean + first).floats,
                rstd: (rstd + first).floats, weight: w.floats, bias: b.floats, rows: rows.count, width: c,
                epsilon: Float(epsilon))
            return
        }
        for r in rows {
            let row = x + r * c, o = out + r * c
            let m = Lanes.sum(row, c) / T(c)
            let s = 1 / (Lanes.squaredDeviations(row, from: m, c) / T(c) + epsilon).squareRoot()
            for j in 0..<c { o[j] = w[j] * ((row[j] - m) * s) + b[j] }
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
        inputGradient(x: x.pointer, mean: mean.pointer, rstd: rstd.pointer, dOut: dOut.pointer, dX: dX.pointer, rows: 0..<x.rows)
        parameterGradient(x: x.pointer, mean: mean.pointer, rstd: rstd.pointer, dOut: dOut.pointer, rows: x.rows, features: 0..<x.columns,
            accumulate: true)
    }

    /// The `dx` line of `backward` on rows `rows` (rows are independent).
    func inputGradient(
        x: UnsafePointer<T>, mean: UnsafePointer<T>, rstd: UnsafePointer<T>, dOut: UnsafePointer<T>,
        dX: UnsafeMutablePointer<T>, rows: Range<Int>
    ) {
        inputGradient(kernels: .for(T.self), x: x, mean: mean, rstd: rstd, dOut: dOut, dX: dX, rows: rows)
    }

    /// That `inputGradient` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (the
    /// reference).
    func inputGradient(
        kernels: KernelVariant?, x: UnsafePointer<T>, mean: UnsafePointer<T>, rstd: UnsafePointer<T>,
        dOut: UnsafePointer<T>, dX: UnsafeMutablePointer<T>, rows: Range<Int>
    ) {
        let c = weight.count, w = weight.pointer
        if let kernels {
            let first = rows.lowerBound
            kernels.layerNormInputGradient(
                x: (x + first * c).floats, mean: (mean + first).floats, rstd: (rstd + first).floats, weight: w.floats,
                dOut: (dOut + first * c).floats, dX: (dX + first * c).floats, rows: rows.count, width: c)
            return
        }
        for r in rows {
            let row = x + r * c, d = dOut + r * c, dx = dX + r * c
            let m = mean[r], s = rstd[r]
            // mean(dxhat) and mean(dxhat · xhat), eight lanes of partial sums each
            var dxhatLanes = SIMD8<T>(), dxhatXhatLanes = SIMD8<T>()
            var j = 0
            while j + 8 <= c {
                let xhat = (Lanes.load(row + j) - m) * s, dxhat = Lanes.load(d + j) * Lanes.load(w + j)
                dxhatLanes += dxhat
                dxhatXhatLanes += dxhat * xhat
                j += 8
            }
            var dxhatMean = dxhatLanes.sum(), dxhatXhatMean = dxhatXhatLanes.sum()
            while j < c {
                let xhat = (row[j] - m) * s, dxhat = d[j] * w[j]
                dxhatMean += dxhat
                dxhatXhatMean += dxhat * xhat
                j += 1
            }
            dxhatMean /= T(c)
            dxhatXhatMean /= T(c)
            for j in 0..<c {
                let xhat = (row[j] - m) * s, dxhat = d[j] * w[j]
                dx[j] += s * (dxhat - dxhatMean - xhat * dxhatXhatMean)
            }
        }
    }

    /// The `dweight` and `dbias` lines of `backward` for the features `features`, summed over
    /// rows `0..<rows` in order (each feature is a sum of its own), added to the gradients, or
    /// written unless `accumulate` (the sums then start from zero).
    func parameterGradient(
        x: UnsafePointer<T>, mean: UnsafePointer<T>, rstd: UnsafePointer<T>, dOut: UnsafePointer<T>, rows: Int,
        features: Range<Int>, accumulate: Bool
    ) {
        let c = weight.count, dw = dWeight.pointer, db = dBias.pointer
        if !accumulate {
            for j in features {
                dw[j] = 0
                db[j] = 0
            }
        }
        for r in 0..<rows {
            let row = x + r * c, d = dOut + r * c
            let m = mean[r], s = rstd[r]
            for j in features {
                let xhat = (row[j] - m) * s
                db[j] += d[j]
                dw[j] += d[j] * xhat
            }
        }
    }
}
