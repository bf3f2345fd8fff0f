/// `out = x @ weight + bias`, with the weight stored `(inputCount, outputCount)` as in the lecture;
/// without a bias when `bias` is nil (the lecture's Linear before a batch-norm, `bias=False`).
///
/// `x` may hold the rows of a 3-D `(B, T, inputCount)` tensor, as `(B·T, inputCount)`: a Linear
/// acts on the last dimension, row by row.
public struct Linear<T: Scalar> {
    /// `(inputCount, outputCount)`.
    public let weight: Tensor<T>
    /// `[outputCount]`, or nil.
    public let bias: Tensor<T>?
    /// The gradient of the loss with respect to `weight`, `(inputCount, outputCount)`, written
    /// (not added to) by `backward`.
    public let dWeight: Tensor<T>
    /// The gradient of the loss with respect to `bias`, `[outputCount]`, or nil without a bias.
    public let dBias: Tensor<T>?

    /// A layer over these tensors (views into a model's parameter table; nothing is copied).
    public init(weight: Tensor<T>, bias: Tensor<T>?, dWeight: Tensor<T>, dBias: Tensor<T>?) {
        self.weight = weight
        self.bias = bias
        self.dWeight = dWeight
        self.dBias = dBias
    }

    /// Features of each input row: the rows of `weight`.
    public var inputCount: Int { weight.rows }
    /// Features of each output row: the columns of `weight`.
    public var outputCount: Int { weight.columns }
    private var allInputs: Range<Int> { 0..<inputCount }
    private var allOutputs: Range<Int> { 0..<outputCount }

    /// `weight ~ N(0, 1) · weightScale`, then `bias ~ N(0, 1) · biasScale` (zero, drawing
    /// nothing, when `biasScale` is 0), drawn in that order.
    public func initialize(weightScale: Double, biasScale: Double, using generator: inout SeededGenerator) {
        weight.fillNormal(scale: weightScale, using: &generator)
        if biasScale == 0 { bias?.fill(0) } else { bias?.fillNormal(scale: biasScale, using: &generator) }
    }

    /// `out (n, outputCount) = x (n, inputCount) @ weight + bias`.
    public func forward(_ x: Tensor<T>, into out: Tensor<T>) {
        if bias != nil { setBias(into: out, outputs: allOutputs) }
        forward(x, inputs: allInputs, into: out, outputs: allOutputs, accumulate: bias != nil)
    }

    /// Given `dOut = dL/dout`:
    ///
    ///     dweight = xᵀ @ dOut         (every row of x met every column of weight)
    ///     dbias   = dOut.sum(0)       (bias was broadcast over the rows)
    ///     dx      = dOut @ weightᵀ    (skipped when `dX` is nil)
    ///
    /// x is kept from the forward: it is the previous layer's output, which is needed anyway.
    public func backward(x: Tensor<T>, dOut: Tensor<T>, dX: Tensor<T>?) {
        weightGradient(x: x, inputs: allInputs, dOut: dOut, outputs: allOutputs)
        if dBias != nil { biasGradient(dOut: dOut, outputs: allOutputs) }
        if let dX { inputGradient(dOut: dOut, outputs: allOutputs, into: dX, inputs: allInputs, accumulate: false) }
    }

    // MARK: Slices
    //
    // The same products on a slice of the layer: the rows `inputs` and columns `outputs` of the
    // weight, with `x`, `out`, `dOut` and `dX` holding just those features (`(n, inputs.count)`,
    // `(n, outputs.count)`). `MLPFastStep` shares a layer between threads by such slices.

    /// Every row of `out (n, outputs.count)`, or its rows `rows`, set to `bias[outputs]`.
    func setBias(into out: Tensor<T>, outputs: Range<Int>, rows: Range<Int>? = nil) {
        setBias(kernels: .for(T.self), into: out, outputs: outputs, rows: rows)
    }

    /// `setBias` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (its reference).
    func setBias(kernels: KernelVariant?, into out: Tensor<T>, outputs: Range<Int>, rows: Range<Int>?) {
        let source = bias!.pointer + outputs.lowerBound, width = outputs.count, rows = rows ?? 0..<out.rows
        if let kernels {
            kernels.broadcastRows(
                UnsafePointer(source).floats, into: (out.pointer + rows.lowerBound * width).floats, rows: rows.count,
                stride: width, width: width)
            return
        }
        for i in rows {
            let row = out.pointer + i * width
            for j in 0..<width { row[j] = source[j] }
        }
    }

    /// `out = x @ weight[inputs, outputs]`, or `out += ...` when `accumulate`.
    func forward(_ x: Tensor<T>, inputs: Range<Int>, into out: Tensor<T>, outputs: Range<Int>, accumulate: Bool) {
        Kernels.matmul(
            x.pointer, weight.pointer + inputs.lowerBound * outputCount + outputs.lowerBound, into: out.pointer,
            m: x.rows, k: inputs.count, n: outputs.count, ldb: outputCount, accumulate: accumulate)
    }

    /// `dweight[inputs, outputs] = xᵀ @ dOut`, where `x` holds the features `inputs` in its
    /// `columns` (all of them unless given).
    func weightGradient(
        x: Tensor<T>, columns: Range<Int>? = nil, inputs: Range<Int>, dOut: Tensor<T>, outputs: Range<Int>
    ) {
        precondition((columns?.count ?? x.columns) == inputs.count, "x holds \(x.columns) features, not \(inputs)")
        Kernels.matmulTransposedA(
            x.pointer + (columns?.lowerBound ?? 0), dOut.pointer,
            into: dWeight.pointer + inputs.lowerBound * outputCount + outputs.lowerBound,
            m: inputs.count, k: x.rows, n: outputs.count, lda: x.columns, ldc: outputCount, accumulate: false)
    }

    /// `dbias[outputs] = dOut.sum(0)`: `dOut (n, outputs.count)` summed over its rows, in order.
    func biasGradient(dOut: Tensor<T>, outputs: Range<Int>) {
        biasGradient(kernels: .for(T.self), dOut: dOut, outputs: outputs)
    }

    /// `biasGradient` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (its reference).
    func biasGradient(kernels: KernelVariant?, dOut: Tensor<T>, outputs: Range<Int>) {
        let sums = dBias!.pointer + outputs.lowerBound, width = outputs.count
        if let kernels {
            kernels.columnSums(UnsafePointer(dOut.pointer).floats, into: sums.floats, rows: dOut.rows, stride: width, width: width)
            return
        }
        sums.update(repeating: 0, count: width)
        for i in 0..<dOut.rows {
            let row = dOut.pointer + i * width
            for j in 0..<width { sums[j] += row[j] }
        }
    }

    /// `dX = dOut @ weight[inputs, outputs]ᵀ`, or `dX += ...` when `accumulate`.
    func inputGradient(
        dOut: Tensor<T>, outputs: Range<Int>, into dX: Tensor<T>, inputs: Range<Int>, accumulate: Bool
    ) {
        Kernels.matmulTransposedB(
            dOut.pointer, weight.pointer + inputs.lowerBound * outputCount + outputs.lowerBound, into: dX.pointer,
            m: dOut.rows, k: outputs.count, n: inputs.count, ldb: outputCount, accumulate: accumulate)
    }

    // MARK: Columns
    //
    // The same products on the columns `columns` of full-width tensors: a fast path's share of a
    // layer when each thread takes some of its output features.

    /// `out[:, columns] = x @ weight[:, columns]` (no bias: for a Linear followed by batch-norm).
    func forward(_ x: Tensor<T>, into out: Tensor<T>, columns: Range<Int>) {
        precondition(bias == nil, "column-wise forward is for a Linear without bias")
        Kernels.matmul(
            x.pointer, weight.pointer + columns.lowerBound, into: out.pointer + columns.lowerBound,
            m: x.rows, k: inputCount, n: columns.count, ldb: outputCount, ldc: outputCount)
    }

    /// `dweight[:, columns] = xᵀ @ dOut[:, columns]`.
    func weightGradient(x: Tensor<T>, dOut: Tensor<T>, columns: Range<Int>) {
        Kernels.matmulTransposedA(
            x.pointer, dOut.pointer + columns.lowerBound, into: dWeight.pointer + columns.lowerBound,
            m: inputCount, k: x.rows, n: columns.count, lda: inputCount, ldb: outputCount, ldc: outputCount, accumulate: false)
    }

    /// `dX[:, columns] = dOut @ weight[columns, :]ᵀ`: the gradient of the input features `columns`.
    func inputGradient(dOut: Tensor<T>, into dX: Tensor<T>, columns: Range<Int>) {
        Kernels.matmulTransposedB(
            dOut.pointer, weight.pointer + columns.lowerBound * outputCount, into: dX.pointer + columns.lowerBound,
            m: dOut.rows, k: outputCount, n: columns.count, ldb: outputCount, ldc: inputCount)
    }
}
