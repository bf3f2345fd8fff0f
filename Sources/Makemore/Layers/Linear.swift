/// `out = x @ weight + bias`, with the weight stored `(inputCount, outputCount)` as in the lecture.
public struct Linear<T: Scalar> {
    /// `(inputCount, outputCount)`.
    public let weight: Tensor<T>
    /// `[outputCount]`.
    public let bias: Tensor<T>
    public let dWeight: Tensor<T>
    public let dBias: Tensor<T>

    public init(weight: Tensor<T>, bias: Tensor<T>, dWeight: Tensor<T>, dBias: Tensor<T>) {
        self.weight = weight
        self.bias = bias
        self.dWeight = dWeight
        self.dBias = dBias
    }

    public var inputCount: Int { weight.rows }
    public var outputCount: Int { weight.columns }

    /// `out (n, outputCount) = x (n, inputCount) @ weight + bias`. `threads` may share a large product.
    public func forward(_ x: Tensor<T>, into out: Tensor<T>, threads: Int = 1) {
        let n = x.rows, o = outputCount
        for i in 0..<n { (out.pointer + i * o).update(from: bias.pointer, count: o) }
        Kernels.matmul(
            x.pointer, weight.pointer, into: out.pointer, m: n, k: inputCount, n: o, accumulate: true, threads: threads)
    }

    /// Given `dOut = dL/dout`:
    ///
    ///     dweight += xᵀ @ dOut        (every row of x met every column of weight)
    ///     dbias   += dOut.sum(0)      (bias was broadcast over the rows)
    ///     dx       = dOut @ weightᵀ   (skipped when `dX` is nil)
    ///
    /// x is kept from the forward: it is the previous layer's output, which is needed anyway.
    public func backward(x: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>?, threads: Int = 1) {
        let n = x.rows, o = outputCount
        Kernels.matmulTransposedA(
            x.pointer, dOut.pointer, into: dWeight.pointer, m: inputCount, k: n, n: o, threads: threads)
        for i in 0..<n {
            let row = dOut.pointer + i * o
            for j in 0..<o { dBias.pointer[j] += row[j] }
        }
        if let dX {
            Kernels.matmulTransposedB(
                dOut.pointer, weight.pointer, into: dX.pointer, m: n, k: o, n: inputCount, threads: threads)
        }
    }
}
