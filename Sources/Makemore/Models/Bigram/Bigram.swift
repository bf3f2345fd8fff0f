/// makemore's `Bigram`: the next character from the previous one alone, through one table of
/// logits that starts at zero (every character equally likely).
///
///     logits = table[idx]                                   (rows, vocab)  rows: the batch's positions
///     loss   = mean over positions of cross_entropy(logits, targets)
///
/// A batch is a `WordBatch`, as makemore trains every model on whole words: each position reads
/// its own character, whatever came before. The lookup is an `Embedding` of width `vocab` (each
/// row one context of one character), its backward a scatter-add.
///
/// `forward`, `backward` and `update` are the plain path; `BigramFastStep` is the same numbers in
/// buffers made once (training allocates nothing per step), tested equal.
public final class Bigram<T: Scalar> {
    public let config: BigramConfig
    /// The one tensor, `logits (vocab, vocab)`.
    public let parameters: ParameterTable<T>
    /// `logits`, as a lookup: `(rows,) -> (rows, vocab)`.
    public let table: Embedding<T>

    public init(config: BigramConfig, parameters: ParameterTable<T>) {
        precondition(parameters.entries.map(\.spec) == config.parameterSpecs, "parameters do not match the configuration")
        self.config = config
        self.parameters = parameters
        var values = parameters.views(of: parameters.values), gradients = parameters.views(of: parameters.gradients)
        let v = config.vocabularySize
        table = Embedding(table: values.next([v, v]), dTable: gradients.next([v, v]))
    }

    /// makemore's initial value: zeros (`nn.Parameter(torch.zeros((n, n)))`); nothing is drawn.
    public static func initialParameters(_ config: BigramConfig, generator: inout SeededGenerator) -> ParameterTable<T> {
        ParameterTable(specs: config.parameterSpecs)
    }

    // MARK: The plain path

    /// `(rows, vocab)`: the logits of the last `forward`.
    public private(set) var logits: Tensor<T>?
    /// `(rows, vocab)`: their softmax, which the backward reads.
    private var probs: Tensor<T>?
    /// `(rows, vocab)`: the gradient of `logits`, from the last `backward`.
    public private(set) var dLogits: Tensor<T>?

    /// The logits of every position of `batch`: `(batch.rows, vocab)`.
    @discardableResult
    public func forwardLogits(_ batch: WordBatch) -> Tensor<T> {
        let out = Tensor<T>(shape: [batch.rows, config.vocabularySize])
        batch.inputs.withUnsafeBufferPointer { table.forward(contexts: $0.baseAddress!, blockSize: 1, into: out) }
        logits = out
        return out
    }

    /// The forward and the mean cross-entropy over every position of the batch.
    public func forward(_ batch: WordBatch) -> T {
        let logits = forwardLogits(batch), p = Tensor<T>(shape: logits.shape)
        probs = p
        return batch.targets.withUnsafeBufferPointer { CrossEntropy.forward(logits: logits, targets: $0.baseAddress!, probs: p) }
    }

    /// The backward of the last `forward`: `dlogits = (probs - onehot) / rows`, then each row
    /// adds into the table's row of its input character.
    public func backward(_ batch: WordBatch) {
        guard let probs else { preconditionFailure("backward before forward") }
        let d = Tensor<T>(shape: probs.shape)
        parameters.gradients.base.update(repeating: 0, count: parameters.gradients.count)
        batch.targets.withUnsafeBufferPointer { CrossEntropy.backward(probs: probs, targets: $0.baseAddress!, dLogits: d) }
        batch.inputs.withUnsafeBufferPointer { table.backward(contexts: $0.baseAddress!, blockSize: 1, dOut: d) }
        dLogits = d
    }

    // MARK: The fast path

    private var fastSteps: BigramFastStep<T>?

    /// The fast step for `batch`, made again only when the batch has more positions than its buffers.
    func fastStep(for batch: WordBatch) -> BigramFastStep<T> {
        if let step = fastSteps, step.capacityRows >= batch.rows { return step }
        let step = BigramFastStep(model: self, rows: Swift.max(batch.rows, batch.count * config.blockSize))
        fastSteps = step
        return step
    }

    // MARK: Use

    /// The mean cross-entropy per position over every word of `dataset`, `chunk` words at a time.
    public func loss(on dataset: Dataset, chunk: Int = 256) -> Double {
        dataset.meanLossOverWords(chunk: chunk) { Double(forward($0)) }
    }

    /// The logits of the character after `word`: the table's row of its last character (of `.`,
    /// the start, for the empty word), as makemore's `generate` crops to a block of one.
    public func logits(after word: [Int32]) -> Tensor<T> {
        let v = config.vocabularySize, previous = Int(word.last ?? 0)
        return table.table.rows(previous..<previous + 1).reshaped([v])
    }
}

/// One training step of a `Bigram` in buffers made once: `forward` then `backward` on pointers,
/// the same kernels in the same order (so the same bits), without allocating.
final class BigramFastStep<T: Scalar> {
    unowned let model: Bigram<T>
    /// Positions the buffers hold.
    let capacityRows: Int
    let logits, probs, dLogits: Tensor<T>  // (N, vocab)
    let rowLosses: Tensor<T>  // [N]

    init(model: Bigram<T>, rows n: Int) {
        let v = model.config.vocabularySize
        self.model = model
        capacityRows = n
        (logits, probs, dLogits) = (Tensor(shape: [n, v]), Tensor(shape: [n, v]), Tensor(shape: [n, v]))
        rowLosses = Tensor(shape: [n])
    }

    /// The mean loss of `batch`, and every gradient in the model's table.
    func run(_ batch: WordBatch) -> T {
        let n = batch.rows, v = model.config.vocabularySize, table = model.table
        precondition(n <= capacityRows, "batch larger than the step's buffers")
        let kernels = KernelVariant.for(T.self)
        return batch.inputs.withUnsafeBufferPointer { inputs in
            batch.targets.withUnsafeBufferPointer { targets in
                let idx = inputs.baseAddress!, y = targets.baseAddress!
                // logits = table[idx]
                for r in 0..<n { (logits.pointer + r * v).update(from: table.table.pointer + Int(idx[r]) * v, count: v) }
                CrossEntropy.forward(logits: logits, targets: y, probs: probs, rows: 0..<n, losses: rowLosses.pointer)
                var total: T = 0
                for i in 0..<n { total += rowLosses[i] }
                // dlogits, then the scatter-add into the table's rows
                CrossEntropy.backward(probs: probs, targets: y, dLogits: dLogits, rows: 0..<n, count: n)
                model.parameters.gradients.base.update(repeating: 0, count: model.parameters.gradients.count)
                let dTable = table.dTable.pointer
                if let kernels {  // Embedding.backward's kernel, on the first n rows
                    kernels.scatterAddRows(
                        indices: idx, count: n, dOut: UnsafePointer(dLogits.pointer).floats, into: dTable.floats, width: v)
                } else {
                    for r in 0..<n {
                        let row = dTable + Int(idx[r]) * v, d = dLogits.pointer + r * v
                        for j in 0..<v { row[j] += d[j] }
                    }
                }
                return total / T(n)
            }
        }
    }
}

// MARK: The model interface

extension Bigram: LanguageModel where T == Float {
    public typealias TrainingBatch = WordBatch

    public static var name: String { "bigram" }
    public static var summary: String { "makemore's Bigram: a table of logits of the next character given the previous one" }

    public var threads: Int {
        get { 1 }
        set {}
    }
    public var parallelism: Int { 1 }

    /// None: the bigram is a table of logits.
    public var nonlinearities: [NonlinearityOutput] { [] }

    /// `forward` and `backward` as one `BigramFastStep`: the same numbers, bit for bit.
    public func forwardBackward(_ batch: WordBatch) -> Float {
        fastStep(for: batch).run(batch)
    }

    /// makemore's recipe (`TrainingOptions.makemore`) for 25,000 steps: from zeros at 5e-4 the dev loss stops improving near step 20,000, at about
    /// 2.454 on the names (PyTorch's run of the same recipe: 2.4539 at step 20,000).
    public static var defaultOptions: TrainingOptions { .makemore(steps: 25_000) }

    /// No products: a lookup and a softmax.
    public func matmulFlops(batchSize: Int) -> Double { 0 }

    public func loss(on dataset: Dataset) -> Double { loss(on: dataset, chunk: 256) }

    public static var gradientCheckBatchSize: Int { 4 }

    public static func gradientPass<U: Scalar>(
        config: BigramConfig, parameters: ParameterTable<U>, batch: WordBatch
    ) throws -> any GradientPass<U> {
        try BigramPass(parameters: parameters, config: config, batch: batch)
    }
}
