/// One training step of a `Transformer` (forward, backward, optionally the update), in buffers
/// made once, shared by one thread or more: `Transformer.forward`, `backward` and `update`
/// reorganised so that the parts of a step never write the same memory in a phase.
///
/// Every layer but the attention works position by position, and the attention word by word;
/// only the parameter gradients sum over all positions. So the step has three phases, with a wait
/// for all parts after each:
///
///     1. rows      per part, a run of whole words (about `rows / parts` positions): the whole
///                  forward of those positions (every Linear on all of them at once through
///                  `Kernels`, the attention per word and head), their losses, and the whole
///                  backward of the activations, down to the gradient of the embeddings. Every
///                  gradient that a parameter gradient reads is kept (`dResidual`, `dMid`, ...).
///     2. parameter per part, a slice of the outputs of every Linear (`Partition.part`, whole
///        gradients  vectors) and of the features of every LayerNorm and of the embeddings: each
///                  slice's gradient is a sum over all the batch's positions, in their order.
///     3. update    (with a learning rate, or AdamW) per part, a range of the parameter table.
///
/// Each number is computed by the same kernel, in the same order, as on the plain path: a row of
/// a product, or one output's sum over rows, does not depend on how many others are computed with
/// it. So a step equals `forward`, `backward`, `update` bit for bit, on one thread or several
/// (`TransformerTests` holds them equal).
///
/// Buffers are sized for `capacity` words of at most `blockSize` positions; a bigger batch makes
/// new ones (once). A training step allocates nothing.
final class TransformerFastStep<T: Scalar>: TeamWork {
    unowned let model: Transformer<T>
    let config: TransformerConfig
    /// Threads sharing the step.
    let parts: Int
    /// Words, and positions (`words · blockSize`), the buffers hold.
    let capacity: Int
    let capacityRows: Int

    /// One block's activations and the gradients a parameter gradient reads, `(rows, ·)` for the
    /// largest batch (a step uses its first `batch.rows`).
    final class Buffers {
        let ln1, y, attnOut, mid, ln2, mlpOut: Tensor<T>  // (N, C)
        let qkv: Tensor<T>  // (N, 3C)
        let fc, gelu, tanh: Tensor<T>  // (N, 4C): c_fc's output, gelu, and tanh u kept for gelu's backward
        let ln1Mean, ln1Rstd, ln2Mean, ln2Rstd: Tensor<T>  // [N]
        let att: Tensor<T>  // per word (heads, T, T), at `attentionOffsets`
        /// Gradients: of `mid`, of ln_2's and ln_1's outputs `(N, C)`, of c_fc's output `(N, 4C)`,
        /// of `qkv` `(N, 3C)`.
        let dMid, dLn2, dLn1, dFc, dQkv: Tensor<T>

        init(rows n: Int, words: Int, config: TransformerConfig) {
            let c = config.embeddingSize, t = config.blockSize
            func m(_ width: Int) -> Tensor<T> { Tensor(shape: [n, width]) }
            (ln1, y, attnOut, mid, ln2, mlpOut) = (m(c), m(c), m(c), m(c), m(c), m(c))
            qkv = m(3 * c)
            (fc, gelu, tanh) = (m(4 * c), m(4 * c), m(4 * c))
            (ln1Mean, ln1Rstd, ln2Mean, ln2Rstd) = (Tensor(shape: [n]), Tensor(shape: [n]), Tensor(shape: [n]), Tensor(shape: [n]))
            att = Tensor(shape: [words * config.heads * t * t])
            (dMid, dLn2, dLn1, dFc, dQkv) = (m(c), m(c), m(c), m(4 * c), m(3 * c))
        }
    }

    let blocks: [Buffers]
    /// `layers + 1` of `(N, C)`: the embeddings, then each block's output; and their gradients.
    let residual, dResidual: [Tensor<T>]
    let lnF, dLnF: Tensor<T>  // (N, C)
    let lnFMean, lnFRstd, rowLosses: Tensor<T>  // [N]
    let logits, probs, dLogits: Tensor<T>  // (N, vocab)
    /// Per part, `(N, 4C)` and `(N, C)` of rows of its own (gradients of gelu's output and of y,
    /// used within phase 1 only), and `[blockSize]` for the attention's backward.
    let dGelu, dY: Tensor<T>
    let scratch: [Tensor<T>]

    /// Of the running step: `[words + 1]` offsets of each word's probabilities in `att`, and
    /// `[parts + 1]` the first word of each part.
    private var attentionOffsets: [Int] = []
    private var wordBounds: [Int] = []
    private var batch: WordBatch?
    private var learningRate: T?
    private var adamW: (AdamW, OptimizerState<T>, Double)?
    private var backwardToo = true

    init(model: Transformer<T>, words: Int, parts: Int) {
        let config = model.config, n = words * config.blockSize, c = config.embeddingSize, v = config.vocabularySize
        self.model = model
        self.config = config
        self.parts = parts
        capacity = words
        capacityRows = n
        blocks = (0..<config.layers).map { _ in Buffers(rows: n, words: words, config: config) }
        residual = (0...config.layers).map { _ in Tensor(shape: [n, c]) }
        dResidual = (0...config.layers).map { _ in Tensor(shape: [n, c]) }
        lnF = Tensor(shape: [n, c])
        dLnF = Tensor(shape: [n, c])
        lnFMean = Tensor(shape: [n])
        lnFRstd = Tensor(shape: [n])
        rowLosses = Tensor(shape: [n])
        logits = Tensor(shape: [n, v])
        probs = Tensor(shape: [n, v])
        dLogits = Tensor(shape: [n, v])
        dGelu = Tensor(shape: [n, 4 * c])
        dY = Tensor(shape: [n, c])
        scratch = (0..<parts).map { _ in Tensor(shape: [config.blockSize]) }
        attentionOffsets.reserveCapacity(words + 1)
        wordBounds.reserveCapacity(parts + 1)
    }

    private enum Phase: Int {
        case rows, parameterGradients, update
    }

    /// Runs the step on `batch`: returns the mean loss, and leaves every parameter's gradient in
    /// the model's table. Then, unless the loss is not finite, SGD at `learningRate` when given,
    /// or AdamW's step `adamW` (hyper-parameters, state, learning rate) when given.
    func run(_ batch: WordBatch, learningRate: T? = nil, adamW: (AdamW, OptimizerState<T>, Double)? = nil) -> T {
        let loss = forward(batch, backward: true)
        let finite = loss.isFinite
        self.learningRate = finite ? learningRate : nil
        self.adamW = finite ? adamW : nil
        let team = WorkerTeam.shared
        team.run(parts: parts, self, task: Phase.parameterGradients.rawValue)
        if let adamW = self.adamW { adamW.1.step += 1 }
        if self.learningRate != nil || self.adamW != nil { team.run(parts: parts, self, task: Phase.update.rawValue) }
        self.batch = nil
        self.adamW = nil
        return loss
    }

    /// Phase 1 alone: the mean loss of `batch` (the forward, and the backward of the activations
    /// when `backward`).
    func forward(_ batch: WordBatch, backward: Bool) -> T {
        precondition(batch.count <= capacity && batch.rows <= capacityRows, "batch larger than the step's buffers")
        self.batch = batch
        backwardToo = backward
        let heads = config.heads, parts = self.parts
        attentionOffsets.removeAll(keepingCapacity: true)
        attentionOffsets.append(0)
        for w in 0..<batch.count {
            let n = batch.starts[w + 1] - batch.starts[w]
            attentionOffsets.append(attentionOffsets[w] + heads * n * n)
        }
        // Whole words per part, cut near every `rows / parts` positions.
        wordBounds.removeAll(keepingCapacity: true)
        wordBounds.append(0)
        var w = 0
        for part in 1..<parts + 1 {
            let target = part == parts ? batch.rows : batch.rows * part / parts
            while w < batch.count && batch.starts[w] < target { w += 1 }
            wordBounds.append(part == parts ? batch.count : w)
        }
        WorkerTeam.shared.run(parts: parts, self, task: Phase.rows.rawValue)
        var total: T = 0
        for i in 0..<batch.rows { total += rowLosses[i] }
        if !backward { self.batch = nil }
        return total / T(batch.rows)
    }

    /// Helper threads reach this through the `TeamWork` witness, which is generic code; the
    /// specialization makes them run the `Float` code the calling thread runs.
    @_specialize(where T == Float)
    func run(task: Int, part: Int) {
        switch Phase(rawValue: task)! {
        case .rows:
            rows(part: part)
        case .parameterGradients:
            parameterGradients(part: part)
        case .update:
            update(part: part)
        }
    }

    // MARK: Phase 1: the part's positions, forward and backward

    private func rows(part: Int) {
        guard let batch else { return }
        let words = wordBounds[part]..<wordBounds[part + 1]
        let r0 = batch.starts[words.lowerBound], n = batch.starts[words.upperBound] - r0
        guard n > 0 else { return }
        let c = config.embeddingSize, v = config.vocabularySize, layers = config.layers, model = self.model
        /// Row `r0` of a `(N, width)` buffer.
        func at(_ t: Tensor<T>, _ width: Int) -> UnsafeMutablePointer<T> { t.pointer + r0 * width }
        let rows = r0..<r0 + n

        // x = wte[idx] + wpe[pos]
        model.embedding.forward(batch, words: words, into: residual[0].pointer)
        for i in 0..<layers {
            let layer = model.blocks[i], b = blocks[i], x = residual[i]
            layer.ln1.forward(x.pointer, into: b.ln1.pointer, mean: b.ln1Mean.pointer, rstd: b.ln1Rstd.pointer, rows: rows)
            layer.cAttn.forward(at(b.ln1, c), into: at(b.qkv, 3 * c), rows: n)
            layer.attention.forward(
                qkv: b.qkv.pointer, starts: batch.starts, attentionOffsets: attentionOffsets, words: words, att: b.att.pointer,
                into: b.y.pointer)
            layer.attnProj.forward(at(b.y, c), into: at(b.attnOut, c), rows: n)
            add(at(x, c), at(b.attnOut, c), into: at(b.mid, c), count: n * c)
            layer.ln2.forward(b.mid.pointer, into: b.ln2.pointer, mean: b.ln2Mean.pointer, rstd: b.ln2Rstd.pointer, rows: rows)
            layer.fc.forward(at(b.ln2, c), into: at(b.fc, 4 * c), rows: n)
            GELU.forward(at(b.fc, 4 * c), into: at(b.gelu, 4 * c), tanh: at(b.tanh, 4 * c), count: n * 4 * c)
            layer.mlpProj.forward(at(b.gelu, 4 * c), into: at(b.mlpOut, c), rows: n)
            add(at(b.mid, c), at(b.mlpOut, c), into: at(residual[i + 1], c), count: n * c)
        }
        let top = residual[layers]
        model.lnF.forward(top.pointer, into: lnF.pointer, mean: lnFMean.pointer, rstd: lnFRstd.pointer, rows: rows)
        model.lmHead.forward(at(lnF, c), into: at(logits, v), rows: n)
        batch.targets.withUnsafeBufferPointer { targets in
            CrossEntropy.forward(logits: logits, targets: targets.baseAddress!, probs: probs, rows: rows, losses: rowLosses.pointer)
            if backwardToo {
                CrossEntropy.backward(probs: probs, targets: targets.baseAddress!, dLogits: dLogits, rows: rows, count: batch.rows)
            }
        }
        guard backwardToo else { return }

        // The backward of the activations, in reverse; what phase 2 reads is kept.
        model.lmHead.inputGradient(dOut: at(dLogits, v), into: at(dLnF, c), rows: n)
        at(dResidual[layers], c).update(repeating: 0, count: n * c)
        model.lnF.inputGradient(
            x: top.pointer, mean: lnFMean.pointer, rstd: lnFRstd.pointer, dOut: dLnF.pointer, dX: dResidual[layers].pointer, rows: rows)
        for i in (0..<layers).reversed() {
            let layer = model.blocks[i], b = blocks[i], dOut = at(dResidual[i + 1], c)
            // x + mlp(ln_2(x)): dOut reaches mlp.c_proj's output and, through the residual, mid.
            layer.mlpProj.inputGradient(dOut: dOut, into: at(dGelu, 4 * c), rows: n)
            GELU.backward(
                x: at(b.fc, 4 * c), tanh: at(b.tanh, 4 * c), dOut: at(dGelu, 4 * c), dX: at(b.dFc, 4 * c), count: n * 4 * c,
                accumulate: false)
            layer.fc.inputGradient(dOut: at(b.dFc, 4 * c), into: at(b.dLn2, c), rows: n)
            at(b.dMid, c).update(from: dOut, count: n * c)
            layer.ln2.inputGradient(
                x: b.mid.pointer, mean: b.ln2Mean.pointer, rstd: b.ln2Rstd.pointer, dOut: b.dLn2.pointer, dX: b.dMid.pointer,
                rows: rows)
            // x + attn(ln_1(x)): dMid reaches attn.c_proj's output and, through the residual, x.
            layer.attnProj.inputGradient(dOut: at(b.dMid, c), into: at(dY, c), rows: n)
            at(b.dQkv, 3 * c).update(repeating: 0, count: n * 3 * c)
            layer.attention.backward(
                qkv: b.qkv.pointer, starts: batch.starts, attentionOffsets: attentionOffsets, words: words, att: b.att.pointer,
                dY: dY.pointer, dQKV: b.dQkv.pointer, scratch: scratch[part].pointer)
            layer.cAttn.inputGradient(dOut: at(b.dQkv, 3 * c), into: at(b.dLn1, c), rows: n)
            at(dResidual[i], c).update(from: at(b.dMid, c), count: n * c)
            layer.ln1.inputGradient(
                x: residual[i].pointer, mean: b.ln1Mean.pointer, rstd: b.ln1Rstd.pointer, dOut: b.dLn1.pointer,
                dX: dResidual[i].pointer, rows: rows)
        }
    }

    /// `out = x + f`, element by element (`Residual.forward`).
    private func add(_ x: UnsafePointer<T>, _ f: UnsafePointer<T>, into out: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { out[i] = x[i] + f[i] }
    }

    // MARK: Phase 2: parameter gradients, by output

    private func parameterGradients(part: Int) {
        guard let batch else { return }
        let n = batch.rows, c = config.embeddingSize, model = self.model
        func outputs(_ linear: TorchLinear<T>) -> Range<Int> { Partition.part(part, of: parts, linear.outputCount) }
        let features = Partition.part(part, of: parts, c)
        for i in 0..<config.layers {
            let layer = model.blocks[i], b = blocks[i]
            layer.ln1.parameterGradient(
                x: residual[i].pointer, mean: b.ln1Mean.pointer, rstd: b.ln1Rstd.pointer, dOut: b.dLn1.pointer, rows: n,
                features: features, accumulate: false)
            layer.cAttn.weightGradient(x: b.ln1.pointer, dOut: b.dQkv.pointer, rows: n, outputs: outputs(layer.cAttn))
            layer.attnProj.weightGradient(x: b.y.pointer, dOut: b.dMid.pointer, rows: n, outputs: outputs(layer.attnProj))
            layer.ln2.parameterGradient(
                x: b.mid.pointer, mean: b.ln2Mean.pointer, rstd: b.ln2Rstd.pointer, dOut: b.dLn2.pointer, rows: n, features: features,
                accumulate: false)
            layer.fc.weightGradient(x: b.ln2.pointer, dOut: b.dFc.pointer, rows: n, outputs: outputs(layer.fc))
            layer.mlpProj.weightGradient(x: b.gelu.pointer, dOut: dResidual[i + 1].pointer, rows: n, outputs: outputs(layer.mlpProj))
        }
        model.lnF.parameterGradient(
            x: residual[config.layers].pointer, mean: lnFMean.pointer, rstd: lnFRstd.pointer, dOut: dLnF.pointer, rows: n,
            features: features, accumulate: false)
        model.lmHead.weightGradient(x: lnF.pointer, dOut: dLogits.pointer, rows: n, outputs: outputs(model.lmHead))
        model.embedding.backward(batch, dOut: dResidual[0].pointer, features: features)
    }

    // MARK: Phase 3: the update, by range of the table

    private func update(part: Int) {
        let table = model.parameters, count = table.trainableCount
        // Ranges of whole cache-line pairs (32 floats), so that parts never write the same line.
        let size = ((count + parts - 1) / parts + 31) / 32 * 32
        let range = Swift.min(count, part * size)..<Swift.min(count, (part + 1) * size)
        guard !range.isEmpty else { return }
        let values = table.values.base + range.lowerBound, gradients = table.gradients.base + range.lowerBound
        if let learningRate {
            for i in 0..<range.count { values[i] -= learningRate * gradients[i] }
        } else if case let (adamW, state, learningRate)? = adamW {
            adamW.update(
                values: values, gradients: gradients, exp_avg: state.firstMoment.base + range.lowerBound,
                exp_avg_sq: state.secondMoment.base + range.lowerBound, count: range.count, step: state.step,
                learningRate: learningRate)
        }
    }
}
