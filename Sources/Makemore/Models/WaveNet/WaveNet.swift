/// The lecture's WaveNet (makemore part 5): the context fused two characters at a time, like a
/// dilated causal convolution.
///
///     emb     = C[contexts]                                  (B, T, embed)        T = blockSize
///     for each level i = 1 ... log2(T):
///       x       = FlattenConsecutive(2)(previous)            (B, T/2^i, 2·width)
///       hprebn  = x @ W                  (no bias)           (B, T/2^i, hidden)
///       hpreact = BatchNorm1d(hprebn)    (over B and time)   (B, T/2^i, hidden)
///       h       = tanh(hpreact)                              (B, T/2^i, hidden)   (B, hidden) at the last
///     logits  = h @ W_out + b_out                            (B, vocab)
///     loss    = cross_entropy(logits, targets)
///
/// Row-major, a `(B, t, width)` tensor is the matrix of its `B·t` rows, so each level is the MLP's
/// Linear, BatchNorm1d and Tanh on `B·T/2^i` rows, and FlattenConsecutive is a view between them:
/// the batch-norm of a 3-D input over dims (0, 1) is the batch-norm of those rows.
///
/// `forward`, `backward` and `update` are the plain path, one thread; evaluation uses the running
/// statistics (the lecture's, with momentum 0.1; no calibration pass).
public final class WaveNet<T: Scalar> {
    /// The sizes: vocabulary, embedding, hidden width, context length (a power of two).
    public let config: WaveNetConfig
    /// Every tensor, in the layout of `config.parameterSpecs`.
    public let parameters: ParameterTable<T>
    /// Typed views of `parameters.values`: `p.C`, `p.levels[i].W`, ... (llm.c's `params`).
    public let p: WaveNetParameters<T>
    /// Typed views of `parameters.gradients`, the same layout as `p` (llm.c's `grads`).
    public let dp: WaveNetParameters<T>
    /// The embedding table `C`, `(vocab, embed)`, over `p.C` and `dp.C`.
    public let embedding: Embedding<T>
    /// The levels, `config.levels` of them (`log2(blockSize)`), first to last.
    public let levels: [Level]
    /// The output layer, `(hidden, vocab)` with a bias: the last level's activations to logits.
    public let output: Linear<T>
    /// Threads that training steps may share (see `WaveNetFastStep`); results do not depend on it.
    public var threads = 1

    /// One `FlattenConsecutive(2) -> Linear -> BatchNorm1d -> Tanh` level.
    public struct Level {
        /// `x @ W`, no bias (batch-norm's bias takes its place): `W (2 · width, hidden)`.
        public let linear: Linear<T>
        /// Batch-norm over the `hidden` features of every row (every example and position).
        public let batchNorm: BatchNorm1d<T>
    }

    /// A model over `parameters`, which must have the layout of `config.parameterSpecs` (it is
    /// shared, not copied: training the model moves those values).
    public init(config: WaveNetConfig, parameters: ParameterTable<T>) {
        precondition(parameters.entries.map(\.spec) == config.parameterSpecs, "parameters do not match the configuration")
        self.config = config
        self.parameters = parameters
        let p = WaveNetParameters(config, parameters, parameters.values)
        let dp = WaveNetParameters(config, parameters, parameters.gradients)
        self.p = p
        self.dp = dp
        embedding = Embedding(table: p.C, dTable: dp.C)
        levels = zip(p.levels, dp.levels).map { p, dp in
            Level(
                linear: Linear(weight: p.W, bias: nil, dWeight: dp.W, dBias: nil),
                batchNorm: BatchNorm1d(
                    gain: p.gain, bias: p.bias, runningMean: p.runningMean, runningVariance: p.runningVariance,
                    dGain: dp.gain, dBias: dp.bias, epsilon: T(config.epsilon), momentum: T(config.momentum)))
        }
        output = Linear(weight: p.W, bias: p.b, dWeight: dp.W, dBias: dp.b)
    }

    /// The lecture's initial values: `C ~ N(0,1)`; each Linear's `W ~ N(0,1)/√fanIn` (the output
    /// Linear's also × 0.1, to start with a flat distribution), biases 0; batch-norm gain 1, bias 0,
    /// running mean 0, variance 1. Each layer draws its own, in the order of the layers.
    public static func initialParameters(_ config: WaveNetConfig, generator: inout SeededGenerator) -> ParameterTable<T> {
        let model = WaveNet(config: config, parameters: ParameterTable(specs: config.parameterSpecs))
        model.embedding.initialize(using: &generator)
        for (i, level) in model.levels.enumerated() {
            level.linear.initialize(weightScale: 1 / Double(config.fanIn(ofLevel: i + 1)).squareRoot(), biasScale: 0, using: &generator)
            level.batchNorm.initialize(gainScale: 0, biasScale: 0, using: &generator)
        }
        model.output.initialize(weightScale: 0.1 / Double(config.hiddenSize).squareRoot(), biasScale: 0, using: &generator)
        return model.parameters
    }

    // MARK: The plain path

    /// The activations of the last `forward`, kept for `backward` (allocated once per batch size).
    public private(set) var activations: WaveNetActivations<T>?

    /// The forward in training mode: batch statistics, running statistics updated. Returns the mean loss.
    public func forward(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count n: Int) -> T {
        let a = activations(rows: n)
        embedding.forward(contexts: contexts, blockSize: config.blockSize, into: a.embByExample)
        for (level, h) in zip(levels, a.levels) {
            level.linear.forward(h.x, into: h.hprebn)  // h.x: FlattenConsecutive(2) of the level below
            level.batchNorm.forwardTraining(h.hprebn, into: h.hpreact, xhat: h.xhat, inverseStd: h.inverseStd)
            Tanh.forward(h.hpreact, into: h.h)
        }
        output.forward(a.levels.last!.h, into: a.logits)
        CrossEntropy.forward(logits: a.logits, targets: targets, probs: a.probs, rows: 0..<n, losses: a.rowLosses.pointer)
        var total: T = 0
        for i in 0..<n { total += a.rowLosses[i] }
        return total / T(n)
    }

    /// The backward of the last `forward`, layer by layer in reverse: writes every gradient.
    /// FlattenConsecutive's backward is the reverse view (`h.dX` is the gradient of the level
    /// below, or of the embeddings, seen flattened), so each Linear writes the gradient of its
    /// input straight into the level below's.
    public func backward(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>) {
        guard let a = activations else { preconditionFailure("backward before forward") }
        CrossEntropy.backward(probs: a.probs, targets: targets, dLogits: a.dLogits)
        output.backward(x: a.levels.last!.h, dOut: a.dLogits, dX: a.levels.last!.dH)
        for i in levels.indices.reversed() {
            let h = a.levels[i], level = levels[i]
            Tanh.backward(out: h.h, dOut: h.dH, dX: h.dHpreact)
            level.batchNorm.backward(dOut: h.dHpreact, xhat: h.xhat, inverseStd: h.inverseStd, dX: h.dHprebn, scratch: h.scratch)
            level.linear.backward(x: h.x, dOut: h.dHprebn, dX: h.dX)
        }
        embedding.dTable.fill(0)
        embedding.backward(contexts: contexts, blockSize: config.blockSize, dOut: a.dEmbByExample)
    }

    /// SGD, the lecture's update: `p -= learningRate · dp` for every trainable parameter.
    public func update(learningRate: T) {
        SGD.step(parameters, learningRate: learningRate)
    }

    // MARK: The fast path

    /// The fast steps of the last batch size, one per number of threads used.
    private var fastSteps: [WaveNetFastStep<T>] = []

    /// `forward`, `backward` and `update` (unless the loss is not finite) as one `WaveNetFastStep`,
    /// shared by `parallelism` threads: the same numbers, bit for bit.
    @discardableResult
    public func trainingStep(
        contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count n: Int, learningRate: T?
    ) -> T {
        precondition(n >= 2, "batch-norm training needs at least two examples")
        let a = activations(rows: n), parts = parallelism
        if fastSteps.first?.a !== a { fastSteps = [] }
        let step = fastSteps.first { $0.parts == parts } ?? WaveNetFastStep(model: self, batch: n, parts: parts, activations: a)
        if !fastSteps.contains(where: { $0 === step }) { fastSteps.append(step) }
        return step.run(contexts: contexts, targets: targets, learningRate: learningRate)
    }

    /// Threads a training step actually uses: `threads`, but at most one per feature slice.
    public var parallelism: Int {
        Swift.max(1, Swift.min(threads, Partition.featureSliceCount(config.hiddenSize)))
    }

    private func activations(rows n: Int) -> WaveNetActivations<T> {
        if let activations, activations.batch == n { return activations }
        let created = WaveNetActivations<T>(config: config, batch: n, training: true)
        activations = created
        return created
    }

    // MARK: Evaluation

    /// Examples evaluated at a time.
    public static var evaluationRows: Int { 256 }
    /// Forward activations in evaluation mode for `evaluationRows` examples, and one example.
    private var evaluationWorkspace: WaveNetActivations<T>?
    private var sampleWorkspace: WaveNetActivations<T>?
    /// The context of `logits(after:)`.
    private lazy var sampleContext = [Int32](repeating: 0, count: config.blockSize)

    /// The evaluation-mode forward (running statistics) of `w.batch` contexts into `w`; with
    /// `targets`, the loss of each row in `w.rowLosses`. With `level`, only up to that level's
    /// `hprebn` (the input of its batch-norm).
    private func evaluationForward(
        contexts: UnsafePointer<Int32>, workspace w: WaveNetActivations<T>, targets: UnsafePointer<Int32>?, through last: Int? = nil
    ) {
        embedding.forward(contexts: contexts, blockSize: config.blockSize, into: w.embByExample)
        for (index, (level, h)) in zip(levels, w.levels).enumerated() {
            level.linear.forward(h.x, into: h.hprebn)
            if index == last { return }
            level.batchNorm.forwardEvaluation(h.hprebn, into: h.hpreact)
            Tanh.forward(h.hpreact, into: h.h)
        }
        output.forward(w.levels.last!.h, into: w.logits)
        if let targets {
            CrossEntropy.forward(logits: w.logits, targets: targets, probs: w.probs, rows: 0..<w.batch, losses: w.rowLosses.pointer)
        }
    }

    /// The mean cross-entropy over a whole data set, in evaluation mode, in chunks.
    public func loss(on dataset: Dataset, chunk: Int = WaveNet.evaluationRows) -> Double {
        precondition(dataset.blockSize == config.blockSize)
        return dataset.meanLoss(chunk: chunk) { contexts, targets, n in
            let w = evaluationWorkspace(batch: n, chunk: chunk)
            evaluationForward(contexts: contexts, workspace: w, targets: targets)
            return w.rowLosses
        }
    }

    /// Sets every level's running statistics to the batch-norm statistics of the whole data set
    /// (over all its rows: examples × time steps), as the lecture's calibration of the MLP; the
    /// levels below are calibrated first.
    public func calibrateBatchNorm(on dataset: Dataset, chunk: Int = WaveNet.evaluationRows) {
        for (index, level) in levels.enumerated() {
            var calibration = BatchNorm1d<T>.Calibration(features: config.hiddenSize)
            dataset.forEachChunk(of: chunk) { contexts, _, n in
                let w = evaluationWorkspace(batch: n, chunk: chunk)
                evaluationForward(contexts: contexts, workspace: w, targets: nil, through: index)
                calibration.add(w.levels[index].hprebn)
            }
            calibration.store(into: level.batchNorm)
        }
    }

    /// The logits of the character after `word`: its last `blockSize` characters, `.`-padded.
    public func logits(after word: [Int32]) -> Tensor<T> {
        Dataset.window(after: word, into: &sampleContext)
        let w = sampleWorkspace ?? WaveNetActivations<T>(config: config, batch: 1, training: false)
        sampleWorkspace = w
        sampleContext.withUnsafeBufferPointer { evaluationForward(contexts: $0.baseAddress!, workspace: w, targets: nil) }
        return w.logits
    }

    /// The evaluation workspace for `n` examples: the full one, or a new one for a last, shorter chunk.
    private func evaluationWorkspace(batch n: Int, chunk: Int) -> WaveNetActivations<T> {
        if let evaluationWorkspace, evaluationWorkspace.batch == n { return evaluationWorkspace }
        let created = WaveNetActivations<T>(config: config, batch: n, training: false)
        if n == chunk { evaluationWorkspace = created }
        return created
    }
}

/// The WaveNet's parameters as typed views of one table (its values, or its gradients), in the
/// order of `WaveNetConfig.parameterSpecs`.
public struct WaveNetParameters<T: Scalar> {
    /// One level's tensors.
    public struct Level {
        /// The Linear layer's weight, `(fanIn, hidden)`: `fanIn` is `2 · embed` for the first
        /// level, `2 · hidden` after it.
        public let W: Tensor<T>
        /// Batch-norm's gain and bias (the lecture's `bngain`, `bnbias`), `(1, hidden)` each.
        public let gain, bias: Tensor<T>
        /// Batch-norm's running mean and variance (`bnmean`, `bnvar`), `(1, hidden)` each: not
        /// trained by gradients, updated by the forward in training mode.
        public let runningMean, runningVariance: Tensor<T>
    }

    /// The embedding table, `(vocab, embed)`: row `i` is character `i`'s embedding.
    public let C: Tensor<T>
    /// The levels' tensors, first to last.
    public let levels: [Level]
    /// The output layer's weight, `(hidden, vocab)`.
    public let W: Tensor<T>
    /// The output layer's bias, `[vocab]`.
    public let b: Tensor<T>

    /// The views of `storage` (the table's values or gradients).
    init(_ config: WaveNetConfig, _ table: ParameterTable<T>, _ storage: TensorStorage<T>) {
        var views = table.views(of: storage)
        let h = config.hiddenSize
        C = views.next([config.vocabularySize, config.embeddingSize])
        let trained = (1...config.levels).map { i in
            (W: views.next([config.fanIn(ofLevel: i), h]), gain: views.next([1, h]), bias: views.next([1, h]))
        }
        W = views.next([h, config.vocabularySize])
        b = views.next([config.vocabularySize])
        levels = trained.map { t in
            Level(W: t.W, gain: t.gain, bias: t.bias, runningMean: views.next([1, h]), runningVariance: views.next([1, h]))
        }
        precondition(views.isComplete)
    }
}

/// The activations of a batch of `batch` examples (and, for training, their gradients and what
/// batch-norm keeps for the backward), each level's as the matrix of its `B·T/2^i` rows. The views
/// between them (FlattenConsecutive, the embedding's rows by example) are made here, once.
public final class WaveNetActivations<T: Scalar> {
    /// One level's activations, `rows = B · T / 2^i` for level `i`.
    public struct Level {
        /// The level's input, `FlattenConsecutive(2)` of the level below (or of `emb`): a view
        /// `(rows, 2·width)`; `dX` the same view of the level below's gradient.
        public let x, dX: Tensor<T>
        /// `(rows, hidden)` each: the Linear output `hprebn`, batch-norm's output `hpreact`, and
        /// the level's output `h = tanh(hpreact)`.
        public let hprebn, hpreact, h: Tensor<T>
        /// `(rows, hidden)` each, or empty in evaluation: the normalised `xhat` and the gradients
        /// of the loss with respect to `h`, `hpreact`, `hprebn`.
        public let xhat, dH, dHpreact, dHprebn: Tensor<T>
        /// `1 / √(var + ε)` of the batch, `[hidden]`, kept for batch-norm's backward.
        public let inverseStd: Tensor<T>
        let scratch: Tensor<T>  // (3, hidden)
    }

    /// The batch size `B` these tensors are allocated for.
    public let batch: Int
    /// The embeddings and their gradient, `(B · T, embed)`: the rows of `(B, T, embed)`.
    public let emb, dEmb: Tensor<T>
    /// `emb` and `dEmb` as `(B, T·embed)`, as the embedding writes and reads them.
    public let embByExample, dEmbByExample: Tensor<T>
    /// The levels' activations, first to last.
    public let levels: [Level]
    /// `(B, vocab)` each: the logits, their softmax, and the gradient of the mean loss with
    /// respect to the logits, `(probs - onehot(targets)) / B`.
    public let logits, probs, dLogits: Tensor<T>
    /// Each example's loss, `-log probs[i, targets[i]]`, `[B]`.
    public let rowLosses: Tensor<T>

    init(config: WaveNetConfig, batch n: Int, training: Bool) {
        batch = n
        let h = config.hiddenSize, t = training ? 1 : 0, e = config.embeddingSize
        emb = Tensor(shape: [n * config.blockSize, e])
        dEmb = Tensor(shape: [n * config.blockSize, e])
        embByExample = emb.reshaped([n, config.blockSize * e])
        dEmbByExample = dEmb.reshaped([n, config.blockSize * e])
        var below = (emb, dEmb)
        levels = (1...config.levels).map { i in
            let r = config.rows(ofLevel: i, batch: n)
            let level = Level(
                x: FlattenConsecutive.forward(below.0), dX: FlattenConsecutive.forward(below.1),
                hprebn: Tensor(shape: [r, h]), hpreact: Tensor(shape: [r, h]), h: Tensor(shape: [r, h]),
                xhat: Tensor(shape: [t * r, h]), dH: Tensor(shape: [t * r, h]), dHpreact: Tensor(shape: [t * r, h]),
                dHprebn: Tensor(shape: [t * r, h]), inverseStd: Tensor(shape: [h]), scratch: Tensor(shape: [3, h]))
            below = (level.h, level.dH)
            return level
        }
        logits = Tensor(shape: [n, config.vocabularySize])
        probs = Tensor(shape: [n, config.vocabularySize])
        dLogits = Tensor(shape: [t * n, config.vocabularySize])
        rowLosses = Tensor(shape: [n])
    }
}

// MARK: The model interface

extension WaveNet: LanguageModel where T == Float {
    public static var name: String { "wavenet" }
    public static var summary: String {
        "the lecture's WaveNet: embedding, FlattenConsecutive(2) -> Linear -> BatchNorm1d -> Tanh levels, Linear"
    }

    /// The lecture's: 200,000 steps of batch 32, learning rate 0.1, then 0.01 from step 150,000.
    public static var defaultOptions: TrainingOptions {
        var options = TrainingOptions()
        options.learningRateDecayStep = 150_000
        return options
    }

    public func forward(_ batch: Batch) -> Float {
        batch.withPointers { forward(contexts: $0, targets: $1, count: batch.count) }
    }

    public func backward(_ batch: Batch) {
        batch.withPointers { backward(contexts: $0, targets: $1) }
    }

    public func trainingStep(_ batch: Batch, learningRate: Float) -> Float {
        batch.withPointers { trainingStep(contexts: $0, targets: $1, count: batch.count, learningRate: learningRate) }
    }

    public func forwardBackward(_ batch: Batch) -> Float {
        batch.withPointers { trainingStep(contexts: $0, targets: $1, count: batch.count, learningRate: nil) }
    }

    /// Each level's tanh (`level 1 tanh`, ...): `h` and `dH` of the plain path, `(B·T/2^i, hidden)`.
    public var nonlinearities: [NonlinearityOutput] {
        guard let a = activations, a.levels.first?.dH.count == a.levels.first?.h.count else { return [] }
        return a.levels.enumerated().map { i, h in NonlinearityOutput(name: "level \(i + 1) tanh", kind: .tanh, output: h.h, gradient: h.dH) }
    }

    /// Each level's batch-norm (`level 1 batchnorm`, ...): its input `hprebn`, over the batch and time.
    public var batchNormInputs: [BatchNormInput] {
        guard let a = activations else { return [] }
        return zip(a.levels, p.levels).enumerated().map { i, level in
            BatchNormInput(
                name: "level \(i + 1) batchnorm", input: level.0.hprebn, runningMean: level.1.runningMean,
                runningVariance: level.1.runningVariance)
        }
    }

    /// Calibration only when asked (`--calibrate`): the lecture evaluates its WaveNet with the
    /// running statistics.
    public var finishingStep: String? { config.calibrates ? "calibrating batch-norm on the whole training split" : nil }

    public func finishTraining(on train: Dataset) {
        if config.calibrates { calibrateBatchNorm(on: train) }
    }

    /// `2·m·k·n` for each of the three products of every Linear (forward, `dx`, `dW`), with `m`
    /// the rows of its input (`B·T/2^i` at level `i`): the first level's `dx` counts too, since
    /// `dC` needs it. Element-wise work is not counted.
    public func matmulFlops(batchSize: Int) -> Double {
        var flops = 0.0
        for i in 1...config.levels {
            flops += 3 * 2 * Double(config.rows(ofLevel: i, batch: batchSize) * config.fanIn(ofLevel: i) * config.hiddenSize)
        }
        return flops + 3 * 2 * Double(batchSize * config.hiddenSize * config.vocabularySize)
    }

    public func loss(on dataset: Dataset) -> Double {
        loss(on: dataset, chunk: WaveNet.evaluationRows)
    }

    public static func gradientPass<U: Scalar>(
        config: WaveNetConfig, parameters: ParameterTable<U>, batch: Batch
    ) throws -> any GradientPass<U> {
        try WaveNetPass(parameters: parameters, config: config, batch: batch)
    }
}
