/// The model for training and use: the layers over one `ParameterTable`, run with the fused
/// backward, reusing its activation buffers from step to step.
///
///     embcat  = C[contexts]                         (n, block·embed)
///     for each block i:
///       hprebn  = x @ W{i} + b{i}                   (n, hidden)
///       hpreact = BatchNorm1d(hprebn)
///       h{i}    = tanh(hpreact)
///     logits  = h{L} @ W{L+1} + b{L+1}              (n, vocab)
///     loss    = cross_entropy(logits, targets)
public final class MLP<T: Scalar> {
    public let config: ModelConfig
    public let parameters: ParameterTable<T>
    public let embedding: Embedding<T>
    public let blocks: [HiddenBlock]
    public let output: Linear<T>
    /// Activations and gradients of the last training batch size.
    private var trainingWorkspace: Workspace<T>?
    /// Forward activations for evaluation, `evaluationRows` rows at a time (views of fewer rows
    /// serve a last, shorter chunk).
    private var evaluationWorkspace: Workspace<T>?
    private var evaluationPrefix: Workspace<T>?
    /// Rows evaluated at a time: large enough to keep the products efficient, small enough to
    /// keep memory low.
    public static var evaluationRows: Int { 512 }
    /// Threads the large matrix products may use.
    public var threads = 1

    /// One Linear -> BatchNorm1d -> Tanh block.
    public struct HiddenBlock {
        public let linear: Linear<T>
        public let batchNorm: BatchNorm1d<T>
    }

    public init(config: ModelConfig, parameters: ParameterTable<T>) {
        precondition(parameters.names == config.parameterSpecs.map(\.name), "parameters do not match the configuration")
        self.config = config
        self.parameters = parameters
        let p = parameters
        embedding = Embedding(table: p["C"], dTable: p.gradient("C"))
        blocks = (1...config.hiddenLayers).map { i in
            HiddenBlock(
                linear: Linear(weight: p["W\(i)"], bias: p["b\(i)"], dWeight: p.gradient("W\(i)"), dBias: p.gradient("b\(i)")),
                batchNorm: BatchNorm1d(
                    gain: p["bngain\(i)"], bias: p["bnbias\(i)"], runningMean: p["bnmean\(i)"],
                    runningVariance: p["bnvar\(i)"], dGain: p.gradient("bngain\(i)"), dBias: p.gradient("bnbias\(i)"),
                    epsilon: T(config.epsilon), momentum: T(config.momentum)))
        }
        let L = config.hiddenLayers + 1
        output = Linear(weight: p["W\(L)"], bias: p["b\(L)"], dWeight: p.gradient("W\(L)"), dBias: p.gradient("b\(L)"))
    }

    /// A model with the lecture's initial values drawn from `generator`.
    public convenience init(config: ModelConfig, generator: inout SeededGenerator) {
        self.init(config: config, parameters: .initialized(config, generator: &generator))
    }

    private func trainingWorkspace(rows: Int) -> Workspace<T> {
        if let trainingWorkspace, trainingWorkspace.rows == rows { return trainingWorkspace }
        let created = Workspace<T>(config: config, rows: rows, withGradients: true)
        trainingWorkspace = created
        return created
    }

    /// Forward buffers for `rows <= evaluationRows` rows. The last view of fewer rows is kept, so
    /// that sampling (one row at a time) does not build a new one per character.
    private func evaluationWorkspace(rows: Int) -> Workspace<T> {
        precondition(rows <= MLP.evaluationRows)
        let full = evaluationWorkspace ?? Workspace<T>(config: config, rows: MLP.evaluationRows, withGradients: false)
        evaluationWorkspace = full
        if rows == full.rows { return full }
        if let evaluationPrefix, evaluationPrefix.rows == rows { return evaluationPrefix }
        let prefix = full.prefix(rows: rows)
        evaluationPrefix = prefix
        return prefix
    }

    // MARK: Training

    /// One forward in training mode (batch statistics; running statistics updated) and the fused
    /// backward. Gradients are zeroed first and hold this batch's afterwards. Returns the loss.
    @discardableResult
    public func forwardBackward(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count n: Int) -> T {
        precondition(n >= 2, "batch-norm training needs at least two examples")
        let w = trainingWorkspace(rows: n)
        // Forward, keeping what the backward needs: each block's input, xhat, 1/std and output.
        embedding.forward(contexts: contexts, blockSize: config.blockSize, into: w.embcat)
        var x = w.embcat
        for (block, b) in zip(blocks, w.blocks) {
            block.linear.forward(x, into: b.hprebn, threads: threads)
            block.batchNorm.forwardTraining(b.hprebn, into: b.hpreact, xhat: b.xhat, inverseStd: b.inverseStd)
            Tanh.forward(b.hpreact, into: b.h)
            x = b.h
        }
        output.forward(x, into: w.logits, threads: threads)
        let loss = CrossEntropy.forward(logits: w.logits, targets: targets, probs: w.probs)

        // Backward, in reverse.
        parameters.zeroGradients()
        CrossEntropy.backward(probs: w.probs, targets: targets, dLogits: w.dLogits)
        output.backward(x: x, dOut: w.dLogits, dX: w.blocks.last!.dH, threads: threads)
        for index in blocks.indices.reversed() {
            let block = blocks[index], b = w.blocks[index]
            Tanh.backward(out: b.h, dOut: b.dH, dX: b.dPreact)
            block.batchNorm.backward(dOut: b.dPreact, xhat: b.xhat, inverseStd: b.inverseStd, dX: b.dPrebn, scratch: b.scratch)
            let input = index > 0 ? w.blocks[index - 1].h : w.embcat
            let dInput = index > 0 ? w.blocks[index - 1].dH : w.dEmbcat
            block.linear.backward(x: input, dOut: b.dPrebn, dX: dInput, threads: threads)
        }
        embedding.backward(contexts: contexts, blockSize: config.blockSize, dOut: w.dEmbcat)
        return loss
    }

    /// `forwardBackward` on a `Batch`.
    @discardableResult
    public func forwardBackward(_ batch: Batch) -> T {
        batch.contexts.withUnsafeBufferPointer { contexts in
            batch.targets.withUnsafeBufferPointer { targets in
                forwardBackward(contexts: contexts.baseAddress!, targets: targets.baseAddress!, count: batch.count)
            }
        }
    }

    // MARK: Evaluation

    /// The logits of `n <= evaluationRows` contexts with batch-norm in evaluation mode (running
    /// statistics), written into the returned view, which is valid until the next call.
    public func logits(contexts: UnsafePointer<Int32>, count n: Int) -> Tensor<T> {
        evaluationLogits(contexts: contexts, count: n).logits
    }

    private func evaluationLogits(contexts: UnsafePointer<Int32>, count n: Int) -> Workspace<T> {
        let w = evaluationWorkspace(rows: n)
        embedding.forward(contexts: contexts, blockSize: config.blockSize, into: w.embcat)
        var x = w.embcat
        for (block, b) in zip(blocks, w.blocks) {
            block.linear.forward(x, into: b.hprebn, threads: threads)
            block.batchNorm.forwardEvaluation(b.hprebn, into: b.hpreact)
            Tanh.forward(b.hpreact, into: b.h)
            x = b.h
        }
        output.forward(x, into: w.logits, threads: threads)
        return w
    }

    /// The mean cross-entropy over a whole data set, batch-norm in evaluation mode, in chunks.
    public func loss(on dataset: Dataset, chunk: Int = MLP.evaluationRows) -> Double {
        precondition(dataset.blockSize == config.blockSize)
        guard dataset.count > 0 else { return .nan }
        var total = 0.0
        dataset.contexts.withUnsafeBufferPointer { contexts in
            dataset.targets.withUnsafeBufferPointer { targets in
                var start = 0
                while start < dataset.count {
                    let n = Swift.min(chunk, dataset.count - start)
                    let w = evaluationLogits(contexts: contexts.baseAddress! + start * config.blockSize, count: n)
                    total += Double(CrossEntropy.forward(logits: w.logits, targets: targets.baseAddress! + start, probs: w.probs)) * Double(n)
                    start += n
                }
            }
        }
        return total / Double(dataset.count)
    }

    /// Sets every block's running statistics to the batch-norm statistics of the whole data set
    /// (mean, and variance with Bessel's correction), as the lecture's calibration after training.
    public func calibrateBatchNorm(on dataset: Dataset, chunk: Int = MLP.evaluationRows) {
        // Pass the data through block by block, accumulating Σx and Σx² of each block's input in Double.
        let h = config.hiddenSize
        for (index, block) in blocks.enumerated() {
            var sum = [Double](repeating: 0, count: h), sumOfSquares = sum
            dataset.contexts.withUnsafeBufferPointer { contexts in
                var start = 0
                while start < dataset.count {
                    let n = Swift.min(chunk, dataset.count - start)
                    let w = evaluationWorkspace(rows: n)
                    embedding.forward(contexts: contexts.baseAddress! + start * config.blockSize, blockSize: config.blockSize, into: w.embcat)
                    var x = w.embcat
                    for (earlier, b) in zip(blocks[..<index], w.blocks) {  // already calibrated
                        earlier.linear.forward(x, into: b.hprebn, threads: threads)
                        earlier.batchNorm.forwardEvaluation(b.hprebn, into: b.hpreact)
                        Tanh.forward(b.hpreact, into: b.h)
                        x = b.h
                    }
                    block.linear.forward(x, into: w.blocks[index].hprebn, threads: threads)
                    let pre = w.blocks[index].hprebn
                    for i in 0..<n {
                        for j in 0..<h {
                            let value = Double(pre[i, j])
                            sum[j] += value
                            sumOfSquares[j] += value * value
                        }
                    }
                    start += n
                }
            }
            let count = Double(dataset.count)
            for j in 0..<h {
                let mean = sum[j] / count
                block.batchNorm.runningMean[j] = T(mean)
                block.batchNorm.runningVariance[j] = T(Swift.max(0, (sumOfSquares[j] - count * mean * mean) / (count - 1)))
            }
        }
    }
}

/// The activations (and, for training, their gradients) for a batch of `rows` examples,
/// allocated once and reused by every step of that size.
final class Workspace<T: Scalar> {
    final class Block {
        let hprebn, xhat, inverseStd, hpreact, h: Tensor<T>  // (n, hidden); inverseStd [hidden]
        let dH, dPreact, dPrebn, scratch: Tensor<T>  // (n, hidden); scratch (3, hidden)

        init(rows n: Int, features f: Int, withGradients: Bool) {
            let gradientRows = withGradients ? n : 0
            hprebn = Tensor(shape: [n, f])
            xhat = Tensor(shape: [gradientRows, f])
            inverseStd = Tensor(shape: [f])
            hpreact = Tensor(shape: [n, f])
            h = Tensor(shape: [n, f])
            dH = Tensor(shape: [gradientRows, f])
            dPreact = Tensor(shape: [gradientRows, f])
            dPrebn = Tensor(shape: [gradientRows, f])
            scratch = Tensor(shape: [3, f])
        }

        init(prefixOf block: Block, rows n: Int) {
            func rows(_ t: Tensor<T>) -> Tensor<T> { t.rows == 0 ? t : t.prefix(rows: n) }
            hprebn = rows(block.hprebn)
            xhat = rows(block.xhat)
            inverseStd = block.inverseStd
            hpreact = rows(block.hpreact)
            h = rows(block.h)
            dH = rows(block.dH)
            dPreact = rows(block.dPreact)
            dPrebn = rows(block.dPrebn)
            scratch = block.scratch
        }
    }

    let rows: Int
    let embcat, logits, probs: Tensor<T>  // (n, block·embed), (n, vocab), (n, vocab)
    let dEmbcat, dLogits: Tensor<T>
    let blocks: [Block]

    init(config: ModelConfig, rows n: Int, withGradients: Bool) {
        let gradientRows = withGradients ? n : 0
        rows = n
        embcat = Tensor(shape: [n, config.inputSize])
        logits = Tensor(shape: [n, config.vocabularySize])
        probs = Tensor(shape: [n, config.vocabularySize])
        dEmbcat = Tensor(shape: [gradientRows, config.inputSize])
        dLogits = Tensor(shape: [gradientRows, config.vocabularySize])
        blocks = (0..<config.hiddenLayers).map { _ in Block(rows: n, features: config.hiddenSize, withGradients: withGradients) }
    }

    /// The same buffers seen as their first `n` rows.
    private init(prefixOf workspace: Workspace, rows n: Int) {
        func rows(_ t: Tensor<T>) -> Tensor<T> { t.rows == 0 ? t : t.prefix(rows: n) }
        self.rows = n
        embcat = rows(workspace.embcat)
        logits = rows(workspace.logits)
        probs = rows(workspace.probs)
        dEmbcat = rows(workspace.dEmbcat)
        dLogits = rows(workspace.dLogits)
        blocks = workspace.blocks.map { Block(prefixOf: $0, rows: n) }
    }

    func prefix(rows n: Int) -> Workspace {
        Workspace(prefixOf: self, rows: n)
    }
}
