/// The lecture's MLP: an embedding table, Linear -> BatchNorm1d -> Tanh layers, an output Linear
/// and a softmax cross-entropy.
///
///     embcat  = C[contexts]                         (n, block·embed)
///     for each hidden layer i:
///       hprebn  = x @ W + b                         (n, hidden)
///       hpreact = BatchNorm1d(hprebn)               (n, hidden)
///       h       = tanh(hpreact)                     (n, hidden)
///     logits  = h @ W_out + b_out                   (n, vocab)
///     loss    = cross_entropy(logits, targets)
///
/// Read `forward`, `backward` and `update` first: the plain path, one thread, each a screen,
/// calling the layers' whole-tensor forward and backward. `trainingStep` runs the same step as
/// `MLPFastStep` (two threads, the update folded into the backward), which the tests hold equal
/// to the plain path. Evaluation shares its rows between threads (`Evaluation`).
public final class MLP<T: Scalar> {
    /// The sizes: vocabulary, embedding, hidden width, context length, hidden layers.
    public let config: MLPConfig
    /// Every tensor, in the layout of `config.parameterSpecs`.
    public let parameters: ParameterTable<T>
    /// Typed views of `parameters.values`: `p.C`, `p.hidden[i].W`, ... (llm.c's `params`).
    public let p: MLPParameters<T>
    /// Typed views of `parameters.gradients`, the same layout as `p` (llm.c's `grads`).
    public let dp: MLPParameters<T>
    /// The embedding table `C`, `(vocab, embed)`, over `p.C` and `dp.C`.
    public let embedding: Embedding<T>
    /// The Linear -> BatchNorm1d -> Tanh layers, `config.hiddenLayers` of them, first to last.
    public let hidden: [HiddenLayer]
    /// The output layer, `(hidden, vocab)` with a bias: hidden activations to logits.
    public let output: Linear<T>
    /// Threads that training steps and evaluation may use together (see `MLPFastStep`; the
    /// evaluation splits the rows). Results do not depend on it, bit for bit.
    public var threads = 1

    /// One Linear -> BatchNorm1d -> Tanh layer.
    public struct HiddenLayer {
        /// `hprebn = x @ W + b`: `W (fanIn, hidden)`, `b [hidden]`.
        public let linear: Linear<T>
        /// `hpreact = gain · (hprebn - mean) / √(var + ε) + bias`, over `hidden` features.
        public let batchNorm: BatchNorm1d<T>
    }

    /// A model over `parameters`, which must have the layout of `config.parameterSpecs` (it is
    /// shared, not copied: training the model moves those values).
    public init(config: MLPConfig, parameters: ParameterTable<T>) {
        precondition(parameters.entries.map(\.spec) == config.parameterSpecs, "parameters do not match the configuration")
        self.config = config
        self.parameters = parameters
        let p = MLPParameters(config, parameters, parameters.values)
        let dp = MLPParameters(config, parameters, parameters.gradients)
        self.p = p
        self.dp = dp
        embedding = Embedding(table: p.C, dTable: dp.C)
        hidden = zip(p.hidden, dp.hidden).map { p, dp in
            HiddenLayer(
                linear: Linear(weight: p.W, bias: p.b, dWeight: dp.W, dBias: dp.b),
                batchNorm: BatchNorm1d(
                    gain: p.gain, bias: p.bias, runningMean: p.runningMean, runningVariance: p.runningVariance,
                    dGain: dp.gain, dBias: dp.bias, epsilon: T(config.epsilon), momentum: T(config.momentum)))
        }
        output = Linear(weight: p.W, bias: p.b, dWeight: dp.W, dBias: dp.b)
    }

    /// A model with the lecture's initial values drawn from `generator`.
    public convenience init(config: MLPConfig, generator: inout SeededGenerator) {
        self.init(config: config, parameters: MLP.initialParameters(config, generator: &generator))
    }

    /// The lecture's initial values, deliberately non-trivial so that a wrong backward cannot hide
    /// behind zeros: `C ~ N(0,1)`; hidden `W ~ N(0,1)·(5/3)/√fanIn`, `b ~ 0.1·N(0,1)`, batch-norm
    /// `gain ~ 1 + 0.1·N(0,1)`, `bias ~ 0.1·N(0,1)`, running mean 0 and variance 1; output
    /// `W, b ~ 0.1·N(0,1)`. Each layer draws its own, in the order of the layers.
    public static func initialParameters(_ config: MLPConfig, generator: inout SeededGenerator) -> ParameterTable<T> {
        let model = MLP(config: config, parameters: ParameterTable(specs: config.parameterSpecs))
        model.embedding.initialize(using: &generator)
        for (i, layer) in model.hidden.enumerated() {
            layer.linear.initialize(weightScale: (5.0 / 3.0) / Double(config.fanIn(ofLayer: i + 1)).squareRoot(), biasScale: 0.1, using: &generator)
            layer.batchNorm.initialize(gainScale: 0.1, biasScale: 0.1, using: &generator)
        }
        model.output.initialize(weightScale: 0.1, biasScale: 0.1, using: &generator)
        return model.parameters
    }

    // MARK: The plain path

    /// The activations of the last `forward`, kept for `backward` (allocated once per batch size).
    public private(set) var activations: MLPActivations<T>?

    /// The forward in training mode: batch statistics, running statistics updated. Returns the mean loss.
    public func forward(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count n: Int) -> T {
        let a = activations(rows: n)
        embedding.forward(contexts: contexts, blockSize: config.blockSize, into: a.embcat)
        var x = a.embcat
        for (layer, h) in zip(hidden, a.hidden) {
            layer.linear.forward(x, into: h.hprebn)
            layer.batchNorm.forwardTraining(h.hprebn, into: h.hpreact, xhat: h.xhat, inverseStd: h.inverseStd)
            Tanh.forward(h.hpreact, into: h.h)
            x = h.h
        }
        output.forward(x, into: a.logits)
        CrossEntropy.forward(logits: a.logits, targets: targets, probs: a.probs, rows: 0..<n, losses: a.rowLosses.pointer)
        var total: T = 0
        for i in 0..<n { total += a.rowLosses[i] }
        return total / T(n)
    }

    /// The backward of the last `forward`, layer by layer in reverse: writes every gradient.
    public func backward(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>) {
        guard let a = activations else { preconditionFailure("backward before forward") }
        CrossEntropy.backward(probs: a.probs, targets: targets, dLogits: a.dLogits)
        output.backward(x: a.hidden.last!.h, dOut: a.dLogits, dX: a.hidden.last!.dH)
        for i in hidden.indices.reversed() {
            let h = a.hidden[i], layer = hidden[i]
            Tanh.backward(out: h.h, dOut: h.dH, dX: h.dHpreact)
            layer.batchNorm.backward(dOut: h.dHpreact, xhat: h.xhat, inverseStd: h.inverseStd, dX: h.dHprebn, scratch: h.scratch)
            let x = i == 0 ? a.embcat : a.hidden[i - 1].h
            layer.linear.backward(x: x, dOut: h.dHprebn, dX: i == 0 ? a.dEmbcat : a.hidden[i - 1].dH)
        }
        embedding.dTable.fill(0)
        embedding.backward(contexts: contexts, blockSize: config.blockSize, dOut: a.dEmbcat)
    }

    /// SGD, the lecture's update: `p -= learningRate · dp` for every trainable parameter.
    public func update(learningRate: T) {
        SGD.step(parameters, learningRate: learningRate)
    }

    private func activations(rows n: Int) -> MLPActivations<T> {
        if let activations, activations.rows == n { return activations }
        let created = MLPActivations<T>(config: config, rows: n)
        activations = created
        return created
    }

    // MARK: The fast path

    /// The buffers of the last training batch size, one per number of threads used (a run whose
    /// threads are chosen as it goes switches between them).
    private var fastSteps: [MLPFastStep<T>] = []

    /// `forward` and `backward` as one `MLPFastStep`: the same gradients. Returns the loss.
    @discardableResult
    func forwardBackward(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count n: Int) -> T {
        fastStep(rows: n).run(contexts: contexts, targets: targets, learningRate: nil)
    }

    /// `forward`, `backward` and `update` (unless the loss is not finite) as one `MLPFastStep`.
    @discardableResult
    public func trainingStep(
        contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, count n: Int, learningRate: T
    ) -> T {
        fastStep(rows: n).run(contexts: contexts, targets: targets, learningRate: learningRate)
    }

    /// Threads a training step of this model actually uses: `threads`, but at most one per
    /// feature slice (two, or one for fewer than 64 hidden features; see `MLPFastStep`).
    public var parallelism: Int {
        Swift.max(1, Swift.min(threads, Partition.featureSliceCount(config.hiddenSize)))
    }

    private func fastStep(rows n: Int) -> MLPFastStep<T> {
        precondition(n >= 2, "batch-norm training needs at least two examples")
        if let step = fastSteps.first(where: { $0.rows == n && $0.parts == parallelism }) { return step }
        let created = MLPFastStep(model: self, rows: n)
        fastSteps.removeAll { $0.rows != n }
        fastSteps.append(created)
        return created
    }

    // MARK: Evaluation

    /// The parts of an evaluation pass.
    private lazy var evaluation = Evaluation(model: self)
    /// Forward activations for evaluation, `evaluationRows` rows at a time (views of fewer rows
    /// serve a last, shorter chunk).
    private var evaluationWorkspace: Workspace<T>?
    private var evaluationPrefix: Workspace<T>?
    /// Rows evaluated at a time: large enough to keep the products efficient, small enough to
    /// keep memory low.
    public static var evaluationRows: Int { 512 }
    /// The context of `logits(after:)`.
    private lazy var sampleContext = [Int32](repeating: 0, count: config.blockSize)

    /// The logits of `n <= evaluationRows` contexts with batch-norm in evaluation mode (running
    /// statistics), written into the returned view, which is valid until the next call.
    public func logits(contexts: UnsafePointer<Int32>, count n: Int) -> Tensor<T> {
        let w = evaluationWorkspace(rows: n)
        evaluationForward(contexts: contexts, workspace: w, through: hidden.count)
        return w.logits
    }

    /// The logits of the character after `word`: its last `blockSize` characters, `.`-padded.
    public func logits(after word: [Int32]) -> Tensor<T> {
        Dataset.window(after: word, into: &sampleContext)
        return sampleContext.withUnsafeBufferPointer { logits(contexts: $0.baseAddress!, count: 1) }
    }

    /// The mean cross-entropy over a whole data set, batch-norm in evaluation mode, in chunks.
    public func loss(on dataset: Dataset, chunk: Int = MLP.evaluationRows) -> Double {
        precondition(dataset.blockSize == config.blockSize)
        return dataset.meanLoss(chunk: chunk) { contexts, targets, n in
            let w = evaluationWorkspace(rows: n)
            evaluationForward(contexts: contexts, workspace: w, through: hidden.count, targets: targets)
            return w.rowLosses
        }
    }

    /// Sets every layer's running statistics to the batch-norm statistics of the whole data set
    /// (mean, and variance with Bessel's correction), as the lecture's calibration after training;
    /// the layers below are calibrated first.
    public func calibrateBatchNorm(on dataset: Dataset, chunk: Int = MLP.evaluationRows) {
        for (index, layer) in hidden.enumerated() {
            var calibration = BatchNorm1d<T>.Calibration(features: config.hiddenSize)
            dataset.forEachChunk(of: chunk) { contexts, _, n in
                let w = evaluationWorkspace(rows: n)
                evaluationForward(contexts: contexts, workspace: w, through: index)
                calibration.add(w.hidden[index].hprebn)
            }
            calibration.store(into: layer.batchNorm)
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

    /// The evaluation-mode forward of `w.rows` contexts into `w`: through the layers before layer
    /// `count` and the Linear of layer `count` (its `hprebn`, the input of its batch-norm), or the
    /// whole model with the loss of each row when `count` is the number of layers and `targets` are
    /// given. Rows are independent in evaluation mode, so the `threads` parts take ranges of rows.
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

    /// The parts of `evaluationForward`: each takes a range of the rows through the model.
    private final class Evaluation: TeamWork {
        unowned let model: MLP
        var contexts: UnsafePointer<Int32>?
        var workspace: Workspace<T>?
        var count = 0
        var targets: UnsafePointer<Int32>?

        init(model: MLP) { self.model = model }

        /// Part `part` of `parts` (the task). Specialized for helper threads, as `MLPFastStep.run(task:part:)`.
        @_specialize(where T == Float)
        func run(task parts: Int, part: Int) {
            guard let workspace, let contexts else { return }
            let config = model.config
            let rows = Partition.part(part, of: parts, workspace.rows)
            guard !rows.isEmpty else { return }
            let w = parts == 1 ? workspace : workspace.rows(rows)
            model.embedding.forward(contexts: contexts + rows.lowerBound * config.blockSize, blockSize: config.blockSize, into: w.embcat)
            var x = w.embcat
            for (index, (layer, h)) in zip(model.hidden, w.hidden).enumerated() where index <= count {
                layer.linear.forward(x, into: h.hprebn)
                guard index < count else { return }
                layer.batchNorm.forwardEvaluation(h.hprebn, into: h.hpreact)
                Tanh.forward(h.hpreact, into: h.h)
                x = h.h
            }
            model.output.forward(x, into: w.logits)
            guard let targets else { return }
            CrossEntropy.forward(
                logits: w.logits, targets: targets + rows.lowerBound, probs: w.probs, rows: 0..<rows.count,
                losses: w.rowLosses.pointer)
        }
    }
}

/// The MLP's parameters as typed views of one table (its values, or its gradients), in the
/// order of `MLPConfig.parameterSpecs`, as llm.c's `ParameterTensors`.
public struct MLPParameters<T: Scalar> {
    /// One hidden layer's tensors.
    public struct Hidden {
        /// The Linear layer's weight, `(fanIn, hidden)`; `fanIn` is `block · embed` for the first
        /// layer, `hidden` after it.
        public let W: Tensor<T>
        /// The Linear layer's bias, `[hidden]`.
        public let b: Tensor<T>
        /// Batch-norm's gain and bias (the lecture's `bngain`, `bnbias`), `(1, hidden)` each.
        public let gain, bias: Tensor<T>
        /// Batch-norm's running mean and variance (`bnmean`, `bnvar`), `(1, hidden)` each: not
        /// trained by gradients, updated by the forward in training mode.
        public let runningMean, runningVariance: Tensor<T>
    }

    /// The embedding table, `(vocab, embed)`: row `i` is character `i`'s embedding.
    public let C: Tensor<T>
    /// The hidden layers' tensors, first to last.
    public let hidden: [Hidden]
    /// The output layer's weight, `(hidden, vocab)`.
    public let W: Tensor<T>
    /// The output layer's bias, `[vocab]`.
    public let b: Tensor<T>

    /// The views of `storage` (the table's values or gradients).
    init(_ config: MLPConfig, _ table: ParameterTable<T>, _ storage: TensorStorage<T>) {
        var views = table.views(of: storage)
        let h = config.hiddenSize
        C = views.next([config.vocabularySize, config.embeddingSize])
        let trained = (1...config.hiddenLayers).map { i in
            (W: views.next([config.fanIn(ofLayer: i), h]), b: views.next([h]), gain: views.next([1, h]), bias: views.next([1, h]))
        }
        W = views.next([h, config.vocabularySize])
        b = views.next([config.vocabularySize])
        hidden = trained.map { t in
            Hidden(W: t.W, b: t.b, gain: t.gain, bias: t.bias, runningMean: views.next([1, h]), runningVariance: views.next([1, h]))
        }
        precondition(views.isComplete)
    }
}

/// The activations of the plain path for a batch of `rows` examples, and their gradients: what
/// `forward` keeps for `backward`, allocated once per batch size.
public final class MLPActivations<T: Scalar> {
    /// One hidden layer's activations.
    public struct Hidden {
        /// `(n, hidden)` each: the Linear output `hprebn`, the normalised `xhat`, batch-norm's
        /// output `hpreact` and the layer's output `h = tanh(hpreact)`.
        public let hprebn, xhat, hpreact, h: Tensor<T>
        /// `(n, hidden)` each: the gradients of the loss with respect to `h`, `hpreact`, `hprebn`.
        public let dH, dHpreact, dHprebn: Tensor<T>
        /// `1 / √(var + ε)` of the batch, `[hidden]`, kept for batch-norm's backward.
        public let inverseStd: Tensor<T>
        let scratch: Tensor<T>  // (3, hidden)
    }

    /// The batch size `n` these tensors are allocated for.
    public let rows: Int
    /// The concatenated embeddings `embcat` and their gradient, `(n, block · embed)`.
    public let embcat, dEmbcat: Tensor<T>
    /// The hidden layers' activations, first to last.
    public let hidden: [Hidden]
    /// `(n, vocab)` each: the logits, their softmax, and the gradient of the mean loss with
    /// respect to the logits, `(probs - onehot(targets)) / n`.
    public let logits, probs, dLogits: Tensor<T>
    /// Each example's loss, `-log probs[i, targets[i]]`, `[n]`.
    public let rowLosses: Tensor<T>

    init(config: MLPConfig, rows n: Int) {
        rows = n
        let h = config.hiddenSize
        embcat = Tensor(shape: [n, config.inputSize])
        dEmbcat = Tensor(shape: [n, config.inputSize])
        hidden = (0..<config.hiddenLayers).map { _ in
            Hidden(
                hprebn: Tensor(shape: [n, h]), xhat: Tensor(shape: [n, h]), hpreact: Tensor(shape: [n, h]),
                h: Tensor(shape: [n, h]), dH: Tensor(shape: [n, h]), dHpreact: Tensor(shape: [n, h]),
                dHprebn: Tensor(shape: [n, h]), inverseStd: Tensor(shape: [h]), scratch: Tensor(shape: [3, h]))
        }
        logits = Tensor(shape: [n, config.vocabularySize])
        probs = Tensor(shape: [n, config.vocabularySize])
        dLogits = Tensor(shape: [n, config.vocabularySize])
        rowLosses = Tensor(shape: [n])
    }
}

/// The forward activations of `rows` examples in evaluation mode, allocated once and reused.
final class Workspace<T: Scalar> {
    struct Hidden {
        let hprebn, hpreact, h: Tensor<T>  // (n, hidden)
    }

    let rows: Int
    let embcat, logits, probs, rowLosses: Tensor<T>  // (n, block·embed), (n, vocab), (n, vocab), (n, 1)
    let hidden: [Hidden]

    init(config: MLPConfig, rows n: Int) {
        rows = n
        embcat = Tensor(shape: [n, config.inputSize])
        logits = Tensor(shape: [n, config.vocabularySize])
        probs = Tensor(shape: [n, config.vocabularySize])
        rowLosses = Tensor(shape: [n, 1])
        hidden = (0..<config.hiddenLayers).map { _ in
            Hidden(
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
        hidden = workspace.hidden.map { Hidden(hprebn: $0.hprebn.rows(range), hpreact: $0.hpreact.rows(range), h: $0.h.rows(range)) }
    }

    func rows(_ range: Range<Int>) -> Workspace {
        Workspace(rowsOf: self, range)
    }

    func prefix(rows n: Int) -> Workspace {
        rows(0..<n)
    }
}

// MARK: The model interface

extension MLP: LanguageModel where T == Float {
    public static var name: String { "mlp" }
    public static var summary: String {
        "the lecture's MLP: embedding, Linear -> BatchNorm1d -> Tanh layers, Linear, cross-entropy"
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
        batch.withPointers { forwardBackward(contexts: $0, targets: $1, count: batch.count) }
    }

    /// Each hidden layer's tanh (`tanh 1`, ...): `h` and `dH` of the plain path.
    public var nonlinearities: [NonlinearityOutput] {
        guard let a = activations else { return [] }
        return a.hidden.enumerated().map { i, h in NonlinearityOutput(name: "tanh \(i + 1)", kind: .tanh, output: h.h, gradient: h.dH) }
    }

    /// Each hidden layer's batch-norm (`batchnorm 1`, ...): its input `hprebn`.
    public var batchNormInputs: [BatchNormInput] {
        guard let a = activations else { return [] }
        return zip(a.hidden, p.hidden).enumerated().map { i, layer in
            BatchNormInput(name: "batchnorm \(i + 1)", input: layer.0.hprebn, runningMean: layer.1.runningMean, runningVariance: layer.1.runningVariance)
        }
    }

    public var finishingStep: String? { config.calibrates ? "calibrating batch-norm on the whole training split" : nil }

    public func finishTraining(on train: Dataset) {
        if config.calibrates { calibrateBatchNorm(on: train) }
    }

    /// `2·m·k·n` for each of the three products of every Linear layer (forward `x @ W`, `dx =
    /// dout @ Wᵀ`, `dW = xᵀ @ dout`), with `m` the batch size: the first layer's `dx` counts too,
    /// since `dC` needs it. Element-wise work (batch-norm, tanh, softmax, SGD) is not counted.
    public func matmulFlops(batchSize: Int) -> Double {
        var flops = 0.0
        for i in 1...config.hiddenLayers {
            flops += 3 * 2 * Double(batchSize * config.fanIn(ofLayer: i) * config.hiddenSize)
        }
        return flops + 3 * 2 * Double(batchSize * config.hiddenSize * config.vocabularySize)
    }

    public func loss(on dataset: Dataset) -> Double {
        loss(on: dataset, chunk: MLP.evaluationRows)
    }

    public static func gradientPass<U: Scalar>(
        config: MLPConfig, parameters: ParameterTable<U>, batch: Batch
    ) throws -> any GradientPass<U> {
        try StepByStep(parameters: parameters, config: config, batch: batch)
    }
}
