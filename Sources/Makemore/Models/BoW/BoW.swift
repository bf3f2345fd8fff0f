/// makemore's `BoW`: a bag of words, the context as the mean of the vectors before each position.
///
///     x = wte[idx] + wpe[pos]                               (rows, C)   rows: the batch's positions
///     x = x + cbow(x)                                       the mean of x over positions u ≤ t of the word
///     x = x + c_proj(tanh(c_fc(x)))                         H wide
///     logits = lm_head(x)                                   (rows, vocab), with a bias
///     loss   = mean over positions of cross_entropy(logits, targets)
///
/// A batch is a `WordBatch`, the positions of its words packed as rows. Every layer works row by
/// row but the bag of words (`CausalBoW`), which works word by word.
///
/// `forward`, `backward` and `update` are the plain path (one thread; the backward zeroes every
/// gradient once, each layer's backward adds into its gradients). `BoWFastStep` is the same
/// numbers, bit for bit, in buffers made once: a training step allocates nothing.
public final class BoW<T: Scalar> {
    public let config: BoWConfig
    /// Every tensor, in the layout of `config.parameterSpecs`.
    public let parameters: ParameterTable<T>
    /// `wte[idx] + wpe[pos]`: `(rows, C)`.
    public let embedding: PositionEmbedding<T>
    /// `context_block.mlp.c_fc`: `(rows, C) -> (rows, H)`, then tanh.
    public let fc: TorchLinear<T>
    /// `context_block.mlp.c_proj`: `(rows, H) -> (rows, C)`.
    public let proj: TorchLinear<T>
    /// `lm_head`: `(rows, C) -> (rows, vocab)`, with a bias.
    public let lmHead: TorchLinear<T>

    public init(config: BoWConfig, parameters: ParameterTable<T>) {
        precondition(parameters.entries.map(\.spec) == config.parameterSpecs, "parameters do not match the configuration")
        self.config = config
        self.parameters = parameters
        var p = parameters.views(of: parameters.values), dp = parameters.views(of: parameters.gradients)
        let c = config.embeddingSize, h = config.hiddenSize, v = config.vocabularySize
        func linear(_ inputs: Int, _ outputs: Int) -> TorchLinear<T> {
            TorchLinear(weight: p.next([outputs, inputs]), bias: p.next([outputs]), dWeight: dp.next([outputs, inputs]), dBias: dp.next([outputs]))
        }
        embedding = PositionEmbedding(
            tokens: p.next([v, c]), positions: p.next([config.blockSize, c]), dTokens: dp.next([v, c]),
            dPositions: dp.next([config.blockSize, c]))
        fc = linear(c, h)
        proj = linear(h, c)
        lmHead = linear(c, v)
        precondition(p.isComplete && dp.isComplete)
    }

    /// PyTorch's default initial values, drawn in the order the modules are built (makemore sets
    /// none of its own): `wte`, `wpe ~ N(0, 1)`; every Linear's weight, then bias, uniform in `±1/√fanIn`.
    public static func initialParameters(_ config: BoWConfig, generator: inout SeededGenerator) -> ParameterTable<T> {
        let model = BoW(config: config, parameters: ParameterTable(specs: config.parameterSpecs))
        model.embedding.initialize(using: &generator)
        model.fc.initialize(using: &generator)
        model.proj.initialize(using: &generator)
        model.lmHead.initialize(using: &generator)
        return model.parameters
    }

    // MARK: The plain path

    /// The layer outputs of the last `forward`.
    public private(set) var activations: BoWActivations<T>?
    /// The softmax of the logits, which the backward reads.
    private var probs: Tensor<T>?
    /// The gradients of those layer outputs, from the last `backward`.
    public private(set) var dActivations: BoWActivations<T>?

    /// The forward up to the logits: `(batch.rows, vocab)`, in `activations`.
    @discardableResult
    public func forwardLogits(_ batch: WordBatch) -> Tensor<T> {
        let a = BoWActivations<T>(config: config, rows: batch.rows), c = config.embeddingSize
        let scratch = Tensor<T>(shape: [c])
        embedding.forward(batch, into: a.emb)
        CausalBoW.forward(a.emb.pointer, into: a.cbow.pointer, width: c, starts: batch.starts, words: 0..<batch.count, scratch: scratch.pointer)
        Residual.forward(a.emb, a.cbow, into: a.mid)
        fc.forward(a.mid, into: a.fc)
        Tanh.forward(a.fc, into: a.tanh)
        proj.forward(a.tanh, into: a.mlpOut)
        Residual.forward(a.mid, a.mlpOut, into: a.out)
        lmHead.forward(a.out, into: a.logits)
        activations = a
        return a.logits
    }

    /// The forward and the mean cross-entropy over every position of the batch.
    public func forward(_ batch: WordBatch) -> T {
        let logits = forwardLogits(batch), p = Tensor<T>(shape: logits.shape)
        probs = p
        return batch.targets.withUnsafeBufferPointer { CrossEntropy.forward(logits: logits, targets: $0.baseAddress!, probs: p) }
    }

    /// The backward of the last `forward`, in reverse: writes every parameter's gradient, and the
    /// gradient of every layer output into `dActivations`.
    public func backward(_ batch: WordBatch) {
        guard let a = activations, let probs else { preconditionFailure("backward before forward") }
        let d = BoWActivations<T>(config: config, rows: batch.rows)  // zeros
        let scratch = Tensor<T>(shape: [config.embeddingSize])
        parameters.gradients.base.update(repeating: 0, count: parameters.gradients.count)
        batch.targets.withUnsafeBufferPointer { CrossEntropy.backward(probs: probs, targets: $0.baseAddress!, dLogits: d.logits) }
        lmHead.backward(x: a.out, dOut: d.logits, dX: d.out)
        Residual.backward(dOut: d.out, dX: d.mid, dF: d.mlpOut)
        proj.backward(x: a.tanh, dOut: d.mlpOut, dX: d.tanh)
        Tanh.backward(out: a.tanh, dOut: d.tanh, dX: d.fc)
        fc.backward(x: a.mid, dOut: d.fc, dX: d.mid)
        Residual.backward(dOut: d.mid, dX: d.emb, dF: d.cbow)
        CausalBoW.backward(
            dY: d.cbow.pointer, dX: d.emb.pointer, width: config.embeddingSize, starts: batch.starts, words: 0..<batch.count,
            scratch: scratch.pointer)
        embedding.backward(batch, dOut: d.emb)
        dActivations = d
    }

    // MARK: The fast path

    private var fastSteps: BoWFastStep<T>?
    /// Words and positions of every batch trained on by the fast path (for `matmulFlops`).
    private var trained = (words: 0, positions: 0)

    /// The fast step for `batch`: buffers for its words at most `blockSize` positions each, made
    /// again only when the batch has more words.
    func fastStep(for batch: WordBatch) -> BoWFastStep<T> {
        precondition(batch.blockSize == config.blockSize, "the batch's block size \(batch.blockSize) is not the model's \(config.blockSize)")
        trained.words += batch.count
        trained.positions += batch.rows
        if let step = fastSteps, step.capacityRows >= batch.rows { return step }
        let step = BoWFastStep(model: self, rows: Swift.max(batch.rows, batch.count * config.blockSize))
        fastSteps = step
        return step
    }

    // MARK: Use

    /// The mean cross-entropy per position over every word of `dataset`, `chunk` words at a time.
    public func loss(on dataset: Dataset, chunk: Int = 256) -> Double {
        dataset.meanLossOverWords(chunk: chunk) { Double(forward($0)) }
    }

    /// The logits of the character after `word` (without the start token): `[vocab]`. As
    /// makemore's `generate` crops `idx` to the last `blockSize` tokens (see `Transformer.logits(after:)`).
    public func logits(after word: [Int32]) -> Tensor<T> {
        let batch = WordBatch(sampling: word, blockSize: config.blockSize)
        let logits = forwardLogits(batch)
        return logits.rows(batch.rows - 1..<batch.rows).reshaped([config.vocabularySize])
    }
}

/// Every layer output of the BoW for `rows` positions: the forward's values, or (as the model's
/// `dActivations`) their gradients, which the backward adds into (zeros to start).
public final class BoWActivations<T: Scalar> {
    /// `(rows, C)`: `wte[idx] + wpe[pos]`.
    public let emb: Tensor<T>
    /// `(rows, C)`: `cbow(emb)`, the mean of `emb` over each position and those before it.
    public let cbow: Tensor<T>
    /// `(rows, C)`: `emb + cbow`.
    public let mid: Tensor<T>
    /// `(rows, H)`: `c_fc(mid)`.
    public let fc: Tensor<T>
    /// `(rows, H)`: `tanh(fc)`.
    public let tanh: Tensor<T>
    /// `(rows, C)`: `c_proj(tanh)`.
    public let mlpOut: Tensor<T>
    /// `(rows, C)`: `mid + mlpOut`, the block's output.
    public let out: Tensor<T>
    /// `(rows, vocab)`: `lm_head(out)`.
    public let logits: Tensor<T>

    init(config: BoWConfig, rows n: Int) {
        let c = config.embeddingSize, h = config.hiddenSize
        func t(_ width: Int) -> Tensor<T> { Tensor(shape: [n, width]) }
        (emb, cbow, mid, fc, tanh, mlpOut, out) = (t(c), t(c), t(c), t(h), t(h), t(c), t(c))
        logits = t(config.vocabularySize)
    }
}

// MARK: The model interface

extension BoW: LanguageModel where T == Float {
    public typealias TrainingBatch = WordBatch

    public static var name: String { "bow" }
    public static var summary: String {
        "makemore's BoW: token and position embeddings, the causal mean of the word so far, a tanh MLP"
    }

    public var threads: Int {
        get { 1 }
        set {}
    }
    public var parallelism: Int { 1 }

    /// The MLP's tanh (`tanh`): `tanh` of `activations` and `dActivations`, `(rows, hidden)`.
    public var nonlinearities: [NonlinearityOutput] {
        guard let a = activations, let d = dActivations, a.tanh.count == d.tanh.count else { return [] }
        return [NonlinearityOutput(name: "tanh", kind: .tanh, output: a.tanh, gradient: d.tanh)]
    }

    /// `forward` and `backward` as one `BoWFastStep`: the same numbers, bit for bit.
    public func forwardBackward(_ batch: WordBatch) -> Float {
        fastStep(for: batch).run(batch)
    }

    /// makemore's recipe (`TrainingOptions.makemore`) for 100,000 steps: the dev loss is about 2.150 there on the names, and creeps down by under
    /// 0.01 over the next 100,000 (2.142 at step 200,000).
    public static var defaultOptions: TrainingOptions { .makemore(steps: 100_000) }

    /// Three products (forward, `dx`, `dW`) of `c_fc`, `c_proj` and `lm_head` per position, at
    /// the mean positions per word of the batches trained on so far (`blockSize` before any).
    public func matmulFlops(batchSize: Int) -> Double {
        let c = Double(config.embeddingSize), h = Double(config.hiddenSize), v = Double(config.vocabularySize)
        let positions = trained.words == 0 ? Double(config.blockSize) : Double(trained.positions) / Double(trained.words)
        let m = Double(batchSize) * positions
        return 3 * 2 * m * (2 * c * h + c * v)
    }

    public func loss(on dataset: Dataset) -> Double { loss(on: dataset, chunk: 256) }

    /// Words: each costs a forward per element of every intermediate.
    public static var gradientCheckBatchSize: Int { 4 }

    public static func gradientPass<U: Scalar>(
        config: BoWConfig, parameters: ParameterTable<U>, batch: WordBatch
    ) throws -> any GradientPass<U> {
        try BoWPass(parameters: parameters, config: config, batch: batch)
    }
}
