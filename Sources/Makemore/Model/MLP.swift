/// The model for training and use: the layers over one `ParameterTable`, run with the fused
/// backward (see `TrainingStep`), reusing its buffers from step to step.
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
    /// The buffers of the last training batch size, one per number of threads used (a run whose
    /// threads are chosen as it goes switches between them).
    private var trainingSteps: [TrainingStep<T>] = []
    /// The parts of an evaluation pass.
    private lazy var evaluation = Evaluation(model: self)
    /// Forward activations for evaluation, `evaluationRows` rows at a time (views of fewer rows
    /// serve a last, shorter chunk).
    private var evaluationWorkspace: Workspace<T>?
    private var evaluationPrefix: Workspace<T>?
    /// Rows evaluated at a time: large enough to keep the products efficient, small enough to
    /// keep memory low.
    public static var evaluationRows: Int { 512 }
    /// Threads that training steps and evaluation may use together (see `TrainingStep`; the
    /// evaluation splits the rows). Results do not depend on it, bit for bit.
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


    /// Part `part` of `parts` of `0..<count`: contiguous blocks of whole vectors (8 floats), in order;
    /// the last ones may be shorter or empty.
    static func block(_ part: Int, of parts: Int, _ count: Int) -> Range<Int> {
        let size = ((count + parts - 1) / parts + 7) / 8 * 8
        return Swift.min(count, part * size)..<Swift.min(count, (part + 1) * size)
    }

    // MARK: Training

    /// One forward in training mode (batch statistics; running statistics updated) and the fused
    /// backward. Every gradient is written: afterwards they hold this batch's. Returns the loss.
    @discardableResult
    public func forwardBackward(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count n: Int) -> T {
        step(rows: n).run(contexts: contexts, targets: targets, learningRate: nil)
    }

    /// `forwardBackward`, and the SGD update `p -= learningRate · dp` of every trainable parameter,
    /// unless the loss is not finite (the parameters are then left as they were).
    @discardableResult
    public func trainingStep(
        contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count n: Int, learningRate: T
    ) -> T {
        step(rows: n).run(contexts: contexts, targets: targets, learningRate: learningRate)
    }

    /// `forwardBackward` on a `Batch`.
    @discardableResult
    public func forwardBackward(_ batch: Batch) -> T {
        batch.withPointers { forwardBackward(contexts: $0, targets: $1, count: batch.count) }
    }

    /// `trainingStep` on a `Batch`.
    @discardableResult
    public func trainingStep(_ batch: Batch, learningRate: T) -> T {
        batch.withPointers { trainingStep(contexts: $0, targets: $1, count: batch.count, learningRate: learningRate) }
    }

    /// Threads a training step of this model actually uses: `threads`, but at most one per feature
    /// block (two, or one for fewer than 64 hidden features; see `TrainingStep`).
    public var parallelism: Int {
        MLP.parallelism(threads: threads, config: config)
    }

    /// `parallelism` of a model of `config` given `threads`.
    public static func parallelism(threads: Int, config: ModelConfig) -> Int {
        Swift.max(1, Swift.min(threads, TrainingStep<T>.featureBlocks(hidden: config.hiddenSize)))
    }

    private func step(rows n: Int) -> TrainingStep<T> {
        precondition(n >= 2, "batch-norm training needs at least two examples")
        if let step = trainingSteps.first(where: { $0.rows == n && $0.parts == parallelism }) { return step }
        let created = TrainingStep(model: self, rows: n)
        trainingSteps.removeAll { $0.rows != n }
        trainingSteps.append(created)
        return created
    }

    // MARK: Evaluation

    /// The logits of `n <= evaluationRows` contexts with batch-norm in evaluation mode (running
    /// statistics), written into the returned view, which is valid until the next call.
    public func logits(contexts: UnsafePointer<Int32>, count n: Int) -> Tensor<T> {
        let w = evaluationWorkspace(rows: n)
        evaluationForward(contexts: contexts, workspace: w, through: blocks.count)
        return w.logits
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
                    let w = evaluationWorkspace(rows: n)
                    evaluationForward(
                        contexts: contexts.baseAddress! + start * config.blockSize, workspace: w, through: blocks.count,
                        targets: targets.baseAddress! + start)
                    var chunkTotal: T = 0
                    for i in 0..<n { chunkTotal += w.rowLosses[i] }
                    total += Double(chunkTotal / T(n)) * Double(n)
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
                    // The blocks before this one are calibrated already.
                    evaluationForward(contexts: contexts.baseAddress! + start * config.blockSize, workspace: w, through: index)
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

    /// Forward activations for `rows <= evaluationRows` rows. The last view of fewer rows is kept, so
    /// that sampling (one row at a time) does not build a new one per character.
    private func evaluationWorkspace(rows: Int) -> Workspace<T> {
        precondition(rows <= MLP.evaluationRows)
        let full = evaluationWorkspace ?? Workspace<T>(config: config, rows: MLP.evaluationRows)
        evaluationWorkspace = full
        if rows == full.rows { return full }
        if let evaluationPrefix, evaluationPrefix.rows == rows { return evaluationPrefix }
        let prefix = full.prefix(rows: rows)
        evaluationPrefix = prefix
        return prefix
    }

    /// The evaluation-mode forward of `w.rows` contexts into `w`: through the blocks before block
    /// `count` and the Linear of block `count` (its `hprebn`, the input of its batch-norm), or the
    /// whole model with the loss of each row when `count` is the number of blocks and `targets` are
    /// given. Rows are independent in evaluation mode, so the `threads` parts take blocks of rows.
    private func evaluationForward(
        contexts: UnsafePointer<Int32>, workspace w: Workspace<T>, through count: Int, targets: UnsafePointer<Int32>? = nil
    ) {
        evaluation.contexts = contexts
        evaluation.workspace = w
        evaluation.count = count
        evaluation.targets = targets
        let parts = w.rows >= 64 ? Swift.max(1, threads) : 1  // a few rows: not worth sharing
        WorkerTeam.shared.run(parts: parts, evaluation, task: parts)
        evaluation.workspace = nil
    }

    /// The parts of `evaluationForward`: each takes a block of the rows through the model.
    private final class Evaluation: TeamWork {
        unowned let model: MLP
        var contexts: UnsafePointer<Int32>?
        var workspace: Workspace<T>?
        var count = 0
        var targets: UnsafePointer<Int32>?

        init(model: MLP) { self.model = model }

        /// Part `part` of `parts` (the task). Specialized for helper threads, as `TrainingStep.run(task:part:)`.
        @_specialize(where T == Float)
        func run(task parts: Int, part: Int) {
            guard let workspace, let contexts else { return }
            let config = model.config, n = workspace.rows
            let rows = MLP.block(part, of: parts, n)
            guard !rows.isEmpty else { return }
            let w = parts == 1 ? workspace : workspace.rows(rows)
            model.embedding.forward(contexts: contexts + rows.lowerBound * config.blockSize, blockSize: config.blockSize, into: w.embcat)
            var x = w.embcat
            for (index, (block, b)) in zip(model.blocks, w.blocks).enumerated() where index <= count {
                block.linear.forward(x, into: b.hprebn)
                guard index < count else { return }
                block.batchNorm.forwardEvaluation(b.hprebn, into: b.hpreact)
                Tanh.forward(b.hpreact, into: b.h)
                x = b.h
            }
            model.output.forward(x, into: w.logits)
            guard let targets else { return }
            CrossEntropy.forward(
                logits: w.logits, targets: targets + rows.lowerBound, probs: w.probs, rows: 0..<rows.count,
                losses: w.rowLosses.pointer)
        }
    }
}

/// The forward activations of `rows` examples in evaluation mode, allocated once and reused.
final class Workspace<T: Scalar> {
    struct Block {
        let hprebn, hpreact, h: Tensor<T>  // (n, hidden)
    }

    let rows: Int
    let embcat, logits, probs, rowLosses: Tensor<T>  // (n, block·embed), (n, vocab), (n, vocab), (n, 1)
    let blocks: [Block]

    init(config: ModelConfig, rows n: Int) {
        rows = n
        embcat = Tensor(shape: [n, config.inputSize])
        logits = Tensor(shape: [n, config.vocabularySize])
        probs = Tensor(shape: [n, config.vocabularySize])
        rowLosses = Tensor(shape: [n, 1])
        blocks = (0..<config.hiddenLayers).map { _ in
            Block(
                hprebn: Tensor(shape: [n, config.hiddenSize]), hpreact: Tensor(shape: [n, config.hiddenSize]),
                h: Tensor(shape: [n, config.hiddenSize]))
        }
    }

    /// The same buffers seen as their rows `range`.
    private init(rowsOf workspace: Workspace, _ range: Range<Int>) {
        rows = range.count
        embcat = workspace.embcat.rows(range)
        logits = workspace.logits.rows(range)
        probs = workspace.probs.rows(range)
        rowLosses = workspace.rowLosses.rows(range)
        blocks = workspace.blocks.map { Block(hprebn: $0.hprebn.rows(range), hpreact: $0.hpreact.rows(range), h: $0.h.rows(range)) }
    }

    func rows(_ range: Range<Int>) -> Workspace {
        Workspace(rowsOf: self, range)
    }

    func prefix(rows n: Int) -> Workspace {
        rows(0..<n)
    }
}
