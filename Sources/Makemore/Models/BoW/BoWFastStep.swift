/// One training step of a `BoW` (forward and backward) in buffers made once, one thread:
/// `BoW.forward` and `backward` on raw rows, each number computed by the same kernel in the same
/// order (so the same bits; `BoWTests` holds them equal). A step allocates nothing.
final class BoWFastStep<T: Scalar> {
    unowned let model: BoW<T>
    /// Positions the buffers hold.
    let capacityRows: Int
    let emb, cbow, mid, mlpOut, out: Tensor<T>  // (N, C)
    let fc, tanh: Tensor<T>  // (N, H)
    let logits, probs, dLogits: Tensor<T>  // (N, vocab)
    /// Gradients of `out`, `mid` and `emb` `(N, C)` (`dOut` is also `mlpOut`'s: a residual), of
    /// `cbow` `(N, C)`, and of `tanh`, `fc` `(N, H)`.
    let dOut, dMid, dEmb, dTanh, dFc: Tensor<T>
    let rowLosses: Tensor<T>  // [N]
    let scratch: Tensor<T>  // [C]

    init(model: BoW<T>, rows n: Int) {
        let config = model.config, c = config.embeddingSize, h = config.hiddenSize, v = config.vocabularySize
        func m(_ width: Int) -> Tensor<T> { Tensor(shape: [n, width]) }
        self.model = model
        capacityRows = n
        (emb, cbow, mid, mlpOut, out) = (m(c), m(c), m(c), m(c), m(c))
        (fc, tanh) = (m(h), m(h))
        (logits, probs, dLogits) = (m(v), m(v), m(v))
        (dOut, dMid, dEmb, dTanh, dFc) = (m(c), m(c), m(c), m(h), m(h))
        rowLosses = Tensor(shape: [n])
        scratch = Tensor(shape: [c])
    }

    /// The mean loss of `batch`, and every gradient in the model's table.
    func run(_ batch: WordBatch) -> T {
        let n = batch.rows, words = 0..<batch.count, model = self.model
        let c = model.config.embeddingSize, h = model.config.hiddenSize
        precondition(n <= capacityRows, "batch larger than the step's buffers")

        // The forward, as BoW.forwardLogits.
        model.embedding.forward(batch, words: words, into: emb.pointer)
        CausalBoW.forward(emb.pointer, into: cbow.pointer, width: c, starts: batch.starts, words: words, scratch: scratch.pointer)
        add(emb.pointer, cbow.pointer, into: mid.pointer, count: n * c)
        model.fc.forward(mid.pointer, into: fc.pointer, rows: n)
        T.tanh(fc.pointer, into: tanh.pointer, count: n * h)
        model.proj.forward(tanh.pointer, into: mlpOut.pointer, rows: n)
        add(mid.pointer, mlpOut.pointer, into: out.pointer, count: n * c)
        model.lmHead.forward(out.pointer, into: logits.pointer, rows: n)
        var total: T = 0
        batch.targets.withUnsafeBufferPointer { targets in
            CrossEntropy.forward(logits: logits, targets: targets.baseAddress!, probs: probs, rows: 0..<n, losses: rowLosses.pointer)
            CrossEntropy.backward(probs: probs, targets: targets.baseAddress!, dLogits: dLogits, rows: 0..<n, count: n)
        }
        for i in 0..<n { total += rowLosses[i] }

        // The backward, as BoW.backward: parameter gradients written (not added), in the same order.
        let all = { (linear: TorchLinear<T>) in 0..<linear.outputCount }
        model.lmHead.weightGradient(x: out.pointer, dOut: dLogits.pointer, rows: n, outputs: all(model.lmHead))
        model.lmHead.inputGradient(dOut: dLogits.pointer, into: dOut.pointer, rows: n)
        // out = mid + mlpOut: dOut reaches both.
        model.proj.weightGradient(x: tanh.pointer, dOut: dOut.pointer, rows: n, outputs: all(model.proj))
        model.proj.inputGradient(dOut: dOut.pointer, into: dTanh.pointer, rows: n)
        tanhBackward(out: tanh.pointer, dOut: dTanh.pointer, dX: dFc.pointer, rows: n, width: h)
        model.fc.weightGradient(x: mid.pointer, dOut: dFc.pointer, rows: n, outputs: all(model.fc))
        dMid.pointer.update(from: dOut.pointer, count: n * c)
        model.fc.inputGradient(dOut: dFc.pointer, into: dMid.pointer, rows: n, accumulate: true)
        // mid = emb + cbow(emb): dMid reaches emb directly and through the bag of words.
        dEmb.pointer.update(from: dMid.pointer, count: n * c)
        CausalBoW.backward(dY: dMid.pointer, dX: dEmb.pointer, width: c, starts: batch.starts, words: words, scratch: scratch.pointer)
        model.embedding.backward(batch, dOut: dEmb.pointer, features: 0..<c)
        return total / T(n)
    }

    /// `out = x + f`, element by element (`Residual.forward`).
    private func add(_ x: UnsafePointer<T>, _ f: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { out[i] = x[i] + f[i] }
    }

    /// `dx = (1 - h²) · dh` on `(rows, width)`: `Tanh.backward`'s kernel, called as it calls it
    /// (its plain loop for `Double`).
    private func tanhBackward(out: UnsafePointer<T>, dOut: UnsafePointer<T>, dX: UnsafeMutablePointer<T>, rows: Int, width: Int) {
        if let kernels = KernelVariant.for(T.self) {
            kernels.tanhBackward(out: out.floats, dOut: dOut.floats, dX: dX.floats, rows: rows, stride: width, width: width)
            return
        }
        for i in 0..<rows * width { dX[i] = (1 - out[i] * out[i]) * dOut[i] }
    }
}
