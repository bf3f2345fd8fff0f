/// PyTorch's `nn.Linear`: `out = x @ weightᵀ + bias`, the weight stored `(outputCount, inputCount)`
/// as PyTorch stores it (the lecture's `Linear` stores `(inputCount, outputCount)`), so that a
/// checkpoint's tensors are a PyTorch state_dict's as they are. Without a bias when `bias` is nil.
///
/// `x` holds rows (`(n, inputCount)`): the positions of a batch, each transformed alike.
/// The backward *adds* into `dWeight`, `dBias` and `dX`, as llm.c's: the caller zeroes them once.
public struct TorchLinear<T: Scalar> {
    /// `(outputCount, inputCount)`.
    public let weight: Tensor<T>
    /// `[outputCount]`, or nil.
    public let bias: Tensor<T>?
    /// `(outputCount, inputCount)`: the gradient of `weight`, which the backward adds into.
    public let dWeight: Tensor<T>
    /// `[outputCount]`, or nil with `bias`: the gradient of `bias`.
    public let dBias: Tensor<T>?

    /// A Linear over views of a parameter table (values and gradients, the same shapes); no bias when `bias` is nil.
    public init(weight: Tensor<T>, bias: Tensor<T>?, dWeight: Tensor<T>, dBias: Tensor<T>?) {
        self.weight = weight
        self.bias = bias
        self.dWeight = dWeight
        self.dBias = dBias
    }

    /// Features out: the rows of `weight`.
    public var outputCount: Int { weight.rows }
    /// Features in: the columns of `weight`.
    public var inputCount: Int { weight.columns }

    /// PyTorch's default: weight and bias uniform in `±1/√inputCount` (`kaiming_uniform_(a=√5)`
    /// comes to that bound), drawn in that order.
    public func initialize(using generator: inout SeededGenerator) {
        let bound = 1 / Double(inputCount).squareRoot()
        for tensor in [weight] + (bias.map { [$0] } ?? []) {
            for i in 0..<tensor.count { tensor[i] = T(bound * (2 * generator.nextUniform() - 1)) }
        }
    }

    /// `out (n, outputCount) = x (n, inputCount) @ weightᵀ + bias`.
    public func forward(_ x: Tensor<T>, into out: Tensor<T>) {
        let n = x.rows, o = outputCount
        if let bias {
            for i in 0..<n { (out.pointer + i * o).update(from: bias.pointer, count: o) }
        }
        Kernels.matmulTransposedB(
            x.pointer, weight.pointer, into: out.pointer, m: n, k: inputCount, n: o, accumulate: bias != nil)
    }

    /// Given `dOut = dL/dout (n, outputCount)`, adds:
    ///
    ///     dweight += dOutᵀ @ x        (outputCount, inputCount): every row met every weight
    ///     dbias   += dOut.sum(0)      the bias was broadcast over the rows
    ///     dx      += dOut @ weight    (n, inputCount)
    ///
    /// `x` is the forward's input, kept by the caller (it is the previous layer's output).
    public func backward(x: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>) {
        let n = x.rows, o = outputCount, i = inputCount
        Kernels.matmulTransposedA(dOut.pointer, x.pointer, into: dWeight.pointer, m: o, k: n, n: i, accumulate: true)
        if let dBias {
            for r in 0..<n {
                let row = dOut.pointer + r * o
                for j in 0..<o { dBias[j] += row[j] }
            }
        }
        Kernels.matmul(dOut.pointer, weight.pointer, into: dX.pointer, m: n, k: o, n: i, accumulate: true)
    }

    // MARK: Shares of a step (a fast path's), on raw rows

    /// `forward` on `n` rows: `out (n, outputCount) = x (n, inputCount) @ weightᵀ + bias`.
    func forward(_ x: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, rows n: Int) {
        let o = outputCount
        if let bias {
            for i in 0..<n { (out + i * o).update(from: bias.pointer, count: o) }
        }
        Kernels.matmulTransposedB(x, weight.pointer, into: out, m: n, k: inputCount, n: o, accumulate: bias != nil)
    }

    /// `dweight[outputs, :] = dOut[:, outputs]ᵀ @ x` and `dbias[outputs] = dOut[:, outputs].sum(0)`
    /// over `n` rows (written, not added: the sums of `backward` starting from zero); each output
    /// is a sum of its own, so a fast path shares them out by outputs.
    func weightGradient(x: UnsafePointer<T>, dOut: UnsafePointer<T>, rows n: Int, outputs: Range<Int>) {
        guard !outputs.isEmpty else { return }
        let o = outputCount, i = inputCount, f = outputs.lowerBound
        Kernels.matmulTransposedA(
            dOut + f, x, into: dWeight.pointer + f * i, m: outputs.count, k: n, n: i, lda: o, accumulate: false)
        if let dBias {
            let db = dBias.pointer
            for j in outputs { db[j] = 0 }
            for r in 0..<n {
                let row = dOut + r * o
                for j in outputs { db[j] += row[j] }
            }
        }
    }

    /// `dx (n, inputCount) = dOut (n, outputCount) @ weight`, written (or added when `accumulate`).
    func inputGradient(dOut: UnsafePointer<T>, into dX: UnsafeMutablePointer<T>, rows n: Int, accumulate: Bool = false) {
        Kernels.matmul(dOut, weight.pointer, into: dX, m: n, k: outputCount, n: inputCount, accumulate: accumulate)
    }
}
