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

    /// `out (n, outputCount) = x (n, inputCount) @ weight + bias`.
    public func forward(_ x: Tensor<T>, into out: Tensor<T>) {
        let n = x.rows, o = outputCount
        for i in 0..<n { (out.pointer + i * o).update(from: bias.pointer, count: o) }
        Kernels.matmul(x.pointer, weight.pointer, into: out.pointer, m: n, k: inputCount, n: o, accumulate: true)
    }

    /// Given `dOut = dL/dout`:
    ///
    ///     dweight = xᵀ @ dOut         (every row of x met every column of weight)
    ///     dbias   = dOut.sum(0)       (bias was broadcast over the rows)
    ///     dx      = dOut @ weightᵀ    (skipped when `dX` is nil)
    ///
    /// x is kept from the forward: it is the previous layer's output, which is needed anyway.
    /// (`TrainingStep` computes the same three products by blocks of features, on several threads.)
    public func backward(x: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>?) {
        let n = x.rows, o = outputCount
        Kernels.matmulTransposedA(
            x.pointer, dOut.pointer, into: dWeight.pointer, m: inputCount, k: n, n: o, accumulate: false)
        Linear.sumRows(dOut.pointer, rows: n, columns: o, into: dBias.pointer)
        if let dX {
            Kernels.matmulTransposedB(dOut.pointer, weight.pointer, into: dX.pointer, m: n, k: o, n: inputCount)
        }
    }

    /// `sums[j] = Σi x[i][j]` for `x (rows, columns)`: the bias gradient.
    @inline(__always)
    static func sumRows(_ x: UnsafePointer<T>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<T>) {
        sums.update(repeating: 0, count: columns)
        for i in 0..<rows {
            let row = x + i * columns
            for j in 0..<columns { sums[j] += row[j] }
        }
    }
}
