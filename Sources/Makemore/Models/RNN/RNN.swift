/// makemore's `RNN`: a recurrent cell run along each word, a Linear head on every state.
///
///     h_{-1} = start                                               (1, H), learned
///     for t in 0..<positions:  h_t = cell([wte[idx_t], h_{t-1}])   (words, H)
///     logits = lm_head(h)                                          (rows, vocab)
///     loss   = mean over positions of cross_entropy(logits, targets)
///
/// The cell is `RNNCell` (`rnn`) or `GRUCell` (`gru`). A batch is a `WordBatch`; a word's steps
/// stop at its end (no padding steps: makemore's padded positions only feed losses it ignores).
///
/// The steps run time-major (`TimeSteps`): the words sorted by length, longest first, so that at
/// step `t` the words still running are the first ones, and their rows are contiguous in every
/// activation (`steps.rows(ofStep: t)`). One step of all its words is then one matrix product per
/// Linear, and word `k`'s previous state is row `k` of the previous step.
///
/// Read `forward`, `backward` (backpropagation through time, last step first) and `update`. The
/// backward zeroes every gradient once, and each layer's backward adds into its gradients. There is
/// one path, which training runs too: one thread (the steps are sequential and their products
/// small), buffers made once for the most positions seen, no allocation per step, the cells'
/// weight gradients taken once over every step's rows (`RecurrentCell.weightGradients`).
public final class RecurrentModel<T: Scalar, Cell: RecurrentCell> {
    public let config: RecurrentConfig<Cell>
    /// Every tensor, in the layout of `config.parameterSpecs`.
    public let parameters: ParameterTable<T>
    /// Typed views of `parameters.values`.
    public let p: RecurrentParameters<T>
    /// The same views of `parameters.gradients`: where the backward writes.
    public let dp: RecurrentParameters<T>
    /// `wte`: `(vocab, E)`.
    public let embedding: Embedding<T>
    /// The cell's Linears, in `Cell.linearNames` order: each `(m, E + H) -> (m, H)`.
    public let cell: [TorchLinear<T>]
    /// `lm_head`: `(rows, H) -> (rows, vocab)`.
    public let lmHead: TorchLinear<T>
    /// Threads a training step may use (one: the steps are sequential and small).
    public var threads = 1

    public init(config: RecurrentConfig<Cell>, parameters: ParameterTable<T>) {
        precondition(parameters.entries.map(\.spec) == config.parameterSpecs, "parameters do not match the configuration")
        self.config = config
        self.parameters = parameters
        let p = RecurrentParameters(config, parameters, parameters.values)
        let dp = RecurrentParameters(config, parameters, parameters.gradients)
        self.p = p
        self.dp = dp
        embedding = Embedding(table: p.wte, dTable: dp.wte)
        cell = zip(p.cell, dp.cell).map { TorchLinear(weight: $0.weight, bias: $0.bias, dWeight: $1.weight, dBias: $1.bias) }
        lmHead = TorchLinear(weight: p.lmHead.weight, bias: p.lmHead.bias, dWeight: dp.lmHead.weight, dBias: dp.lmHead.bias)
    }

    /// PyTorch's defaults, in the order makemore builds the modules: `start` zeros, `wte ~ N(0, 1)`,
    /// each Linear's weight then bias uniform in `±1/√fanIn` (the cell's, then `lm_head`).
    public static func initialParameters(_ config: RecurrentConfig<Cell>, generator: inout SeededGenerator) -> ParameterTable<T> {
        let model = RecurrentModel(config: config, parameters: ParameterTable(specs: config.parameterSpecs))
        model.p.start.fill(0)
        model.embedding.initialize(using: &generator)
        for linear in model.cell { linear.initialize(using: &generator) }
        model.lmHead.initialize(using: &generator)
        return model.parameters
    }

    // MARK: The plain path

    /// The layer outputs of the last `forward`, time-major (their first `steps.rows` rows).
    public private(set) var activations: RecurrentActivations<T>?
    /// The gradients of those outputs, from the last `backward`.
    public private(set) var dActivations: RecurrentActivations<T>?

    /// The forward up to the logits, `(batch.rows, vocab)` time-major (row `i` is the batch's
    /// row `activations.steps.packedRow[i]`), in `activations`. The buffers are made once for
    /// the most rows seen and reused: a training step allocates nothing.
    @_specialize(where T == Float, Cell == RNNCell)
    @_specialize(where T == Float, Cell == GRUCell)
    @discardableResult
    public func forwardLogits(_ batch: WordBatch) -> Tensor<T> {
        runForward(batch)
        return activations!.logits.rows(0..<batch.rows)  // a view (its shape is an allocation: not in a training step)
    }

    /// `forwardLogits` without making the view of the logits.
    @_specialize(where T == Float, Cell == RNNCell)
    @_specialize(where T == Float, Cell == GRUCell)
    private func runForward(_ batch: WordBatch) {
        let e = config.embeddingSize, n = config.hiddenSize, w = e + n
        if activations.map({ $0.capacity < batch.rows || $0.words < batch.count }) ?? true {
            // room for every word at `blockSize` positions: no batch of as many words needs more
            let capacity = Swift.max(batch.rows, batch.count * config.blockSize)
            activations = RecurrentActivations(config: config, capacity: capacity, words: batch.count, gradients: false)
            dActivations = RecurrentActivations(config: config, capacity: capacity, words: batch.count, gradients: true)
        }
        let a = activations!
        a.steps.reorder(batch)
        a.setTargets(batch)
        let s = a.steps
        for t in 0..<s.count {
            let rows = s.rows(ofStep: t)
            for (k, i) in rows.enumerated() {
                // xh = [wte[idx], h_{t-1}]
                let xh = a.xh.pointer + i * w
                xh.update(from: p.wte.pointer + Int(batch.inputs[s.packedRow[i]]) * e, count: e)
                let previous = t == 0 ? p.start.pointer : a.h.pointer + (s.starts[t - 1] + k) * n
                (xh + e).update(from: previous, count: n)
            }
            Cell.forward(cell, xh: a.xh, cache: a.cache, h: a.h, rows: rows)
        }
        lmHead.forward(a.h.pointer, into: a.logits.pointer, rows: batch.rows)
    }

    /// The forward and the mean cross-entropy over every position of the batch.
    @_specialize(where T == Float, Cell == RNNCell)
    @_specialize(where T == Float, Cell == GRUCell)
    public func forward(_ batch: WordBatch) -> T {
        runForward(batch)
        let a = activations!, rows = batch.rows
        a.targets.withUnsafeBufferPointer {
            CrossEntropy.forward(logits: a.logits, targets: $0.baseAddress!, probs: a.probs, rows: 0..<rows, losses: a.losses.pointer)
        }
        var total: T = 0
        for i in 0..<rows { total += a.losses[i] }
        return total / T(rows)
    }

    /// Backpropagation through time: the head on every state, then the steps last first, each
    /// step's `dh` complete (from the head and from the next step) before its cell's backward;
    /// the cell's weight gradients once, over all the steps' rows.
    @_specialize(where T == Float, Cell == RNNCell)
    @_specialize(where T == Float, Cell == GRUCell)
    public func backward(_ batch: WordBatch) {
        guard let a = activations, let d = dActivations else { preconditionFailure("backward before forward") }
        let e = config.embeddingSize, n = config.hiddenSize, w = e + n, s = a.steps, rows = batch.rows
        d.xh.pointer.update(repeating: 0, count: rows * w)  // the backward adds into dxh and dh
        d.h.pointer.update(repeating: 0, count: rows * n)
        parameters.gradients.base.update(repeating: 0, count: parameters.gradients.count)
        a.targets.withUnsafeBufferPointer {
            CrossEntropy.backward(probs: a.probs, targets: $0.baseAddress!, dLogits: d.logits, rows: 0..<rows, count: rows)
        }
        lmHead.addWeightGradient(x: a.h, dOut: d.logits, rows: 0..<rows)
        lmHead.inputGradient(dOut: d.logits.pointer, into: d.h.pointer, rows: rows, accumulate: true)
        for t in (0..<s.count).reversed() {
            let stepRows = s.rows(ofStep: t)
            Cell.backward(cell, xh: a.xh, cache: a.cache, h: a.h, dH: d.h, dXH: d.xh, scratch: d.scratch, rows: stepRows)
            for (k, i) in stepRows.enumerated() {
                // dxh = [dx, dh_{t-1}]: the embedding's row, and the previous state (or `start`)
                let dxh = d.xh.pointer + i * w
                let dRow = dp.wte.pointer + Int(batch.inputs[s.packedRow[i]]) * e
                for j in 0..<e { dRow[j] += dxh[j] }
                let dPrevious = t == 0 ? dp.start.pointer : d.h.pointer + (s.starts[t - 1] + k) * n
                for j in 0..<n { dPrevious[j] += dxh[e + j] }
            }
        }
        Cell.weightGradients(cell, xh: a.xh, cache: a.cache, scratch: d.scratch, rows: 0..<rows)
    }

    /// SGD: `p -= learningRate · dp` for every parameter.
    public func update(learningRate: T) {
        SGD.step(parameters, learningRate: learningRate)
    }

    // MARK: Use

    /// The mean cross-entropy per position over every word of `dataset`, `chunk` words at a time.
    public func loss(on dataset: Dataset, chunk: Int = 256) -> Double {
        dataset.meanLossOverWords(chunk: chunk) { Double(forward($0)) }
    }

    /// The logits of the character after `word` (without the start token): `[vocab]`. As
    /// makemore's `generate`, the model reads the last `blockSize` tokens (the start token, then
    /// the word; a word of `blockSize` characters or more without the start token).
    public func logits(after word: [Int32]) -> Tensor<T> {
        let batch = WordBatch(sampling: word, blockSize: config.blockSize)
        let logits = forwardLogits(batch)
        return logits.rows(batch.rows - 1..<batch.rows).reshaped([config.vocabularySize])  // one word: its last step is last
    }
}

/// The order of a batch's positions in which each time step's words are contiguous: the words
/// sorted by length, longest first (ties in batch order), then step by step. Step `t`'s rows are
/// `starts[t] ..< starts[t + 1]`, the `k`-th of them word `order[k]`'s position `t`.
public struct TimeSteps: Sendable, Equatable {
    /// The batch's words, longest first.
    public private(set) var order: [Int] = []
    /// `[count + 1]`: where each step's rows start; the last is the batch's rows.
    public private(set) var starts: [Int] = [0]
    /// `[rows]`: time-major row `i` is the batch's (word-major) row `packedRow[i]`.
    public private(set) var packedRow: [Int] = []

    /// The order of `batch`.
    public init(_ batch: WordBatch) {
        reorder(batch)
    }

    /// Empty, with room for batches of `words` words and `capacity` positions.
    init(capacity: Int, words: Int, blockSize: Int) {
        order.reserveCapacity(words)
        starts.reserveCapacity(blockSize + 1)
        packedRow.reserveCapacity(capacity)
    }

    /// The order of `batch`, in the arrays' storage (no allocation once they are large enough).
    mutating func reorder(_ batch: WordBatch) {
        func length(_ w: Int) -> Int { batch.starts[w + 1] - batch.starts[w] }
        order.removeAll(keepingCapacity: true)
        for w in 0..<batch.count {  // insertion sort: longest first, ties in batch order
            var k = order.count
            order.append(w)
            while k > 0 && length(order[k - 1]) < length(w) {
                order[k] = order[k - 1]
                k -= 1
            }
            order[k] = w
        }
        starts.removeAll(keepingCapacity: true)
        starts.append(0)
        packedRow.removeAll(keepingCapacity: true)
        for t in 0..<(order.first.map(length) ?? 0) {
            for w in order {
                guard length(w) > t else { break }
                packedRow.append(batch.starts[w] + t)
            }
            starts.append(packedRow.count)
        }
    }

    /// Steps: the longest word's positions.
    public var count: Int { starts.count - 1 }
    /// Positions of all words.
    public var rows: Int { packedRow.count }
    /// Step `t`'s rows.
    public func rows(ofStep t: Int) -> Range<Int> { starts[t]..<starts[t + 1] }
}

/// The recurrent model's parameters as typed views of one table (its values, or its gradients),
/// in the order of `RecurrentConfig.parameterSpecs`.
public struct RecurrentParameters<T: Scalar> {
    /// A Linear's `(out, in)` weight and `[out]` bias.
    public struct Affine {
        /// `(out, in)`, PyTorch's layout: `y = x Wᵀ + b`.
        public let weight: Tensor<T>
        /// `[out]`.
        public let bias: Tensor<T>
    }

    /// `start`: `(1, H)`, the state before the first character.
    public let start: Tensor<T>
    /// `wte.weight`: `(vocab, E)`.
    public let wte: Tensor<T>
    /// `cell.<name>`, in `Cell.linearNames` order: `(H, E + H)`, `[H]`.
    public let cell: [Affine]
    /// `lm_head`: `(vocab, H)`, `[vocab]`.
    public let lmHead: Affine

    init<Cell>(_ config: RecurrentConfig<Cell>, _ table: ParameterTable<T>, _ storage: TensorStorage<T>) {
        var views = table.views(of: storage)
        let e = config.embeddingSize, h = config.hiddenSize, v = config.vocabularySize
        start = views.next([1, h])
        wte = views.next([v, e])
        cell = Cell.linearNames.map { _ in Affine(weight: views.next([h, e + h]), bias: views.next([h])) }
        lmHead = Affine(weight: views.next([v, h]), bias: views.next([v]))
        precondition(views.isComplete)
    }
}

/// Every layer output of the recurrent model for a batch of at most `capacity` positions,
/// time-major (`steps`), its rows `0 ..< steps.rows` used: the forward's values, or (as the
/// model's `dActivations`) their gradients.
public final class RecurrentActivations<T: Scalar> {
    /// Rows of every tensor here: the most positions a batch may have.
    public let capacity: Int
    /// The most words a batch may have without the order's arrays growing.
    public let words: Int
    /// The batch's time-major order.
    public internal(set) var steps: TimeSteps
    /// `(capacity, E + H)`: each position's `[x_t, h_{t-1}]`.
    public let xh: Tensor<T>
    /// What the cell keeps, `(capacity, Cell.cacheWidths[i])` each (forward only).
    public let cache: [Tensor<T>]
    /// Where the cell's backward works, `(capacity, Cell.scratchWidths[i])` each (gradients only).
    let scratch: [Tensor<T>]
    /// `(capacity, H)`: the states `h_t`.
    public let h: Tensor<T>
    /// `(capacity, vocab)`: `lm_head(h)`.
    public let logits: Tensor<T>
    /// `(capacity, vocab)`: the softmax of the logits (forward only).
    let probs: Tensor<T>
    /// `[capacity]`: each position's loss (forward only).
    let losses: Tensor<T>
    /// The targets in time-major order.
    private(set) var targets: [Int32] = []

    init<Cell>(config: RecurrentConfig<Cell>, capacity: Int, words: Int, gradients: Bool) {  // `steps` is set on the forward's only
        let e = config.embeddingSize, n = config.hiddenSize, v = config.vocabularySize
        self.capacity = capacity
        self.words = words
        steps = TimeSteps(capacity: capacity, words: words, blockSize: config.blockSize)
        xh = Tensor(shape: [capacity, e + n])
        cache = gradients ? [] : Cell.cacheWidths(embed: e, hidden: n).map { Tensor(shape: [capacity, $0]) }
        scratch = gradients ? Cell.scratchWidths(embed: e, hidden: n).map { Tensor(shape: [capacity, $0]) } : []
        h = Tensor(shape: [capacity, n])
        logits = Tensor(shape: [capacity, v])
        probs = Tensor(shape: [gradients ? 0 : capacity, v])
        losses = Tensor(shape: [gradients ? 0 : capacity])
        targets.reserveCapacity(capacity)
    }

    /// The batch's targets in the order of `steps`.
    func setTargets(_ batch: WordBatch) {
        targets.removeAll(keepingCapacity: true)
        for r in steps.packedRow { targets.append(batch.targets[r]) }
    }
}

/// makemore's `RNN(config, cell_type='rnn')`.
public typealias RNN<T: Scalar> = RecurrentModel<T, RNNCell>
/// makemore's `RNN(config, cell_type='gru')`.
public typealias GRU<T: Scalar> = RecurrentModel<T, GRUCell>

// MARK: The model interface

extension RecurrentModel: LanguageModel where T == Float {
    public typealias TrainingBatch = WordBatch

    public static var name: String { Cell.modelName }
    public static var summary: String { Cell.summary }

    /// One thread: each step's products are small and the steps run one after another.
    public var parallelism: Int { 1 }

    /// The cell's nonlinearities over every position of the last plain `forward` and `backward`
    /// (see `RecurrentCell.nonlinearities`).
    public var nonlinearities: [NonlinearityOutput] {
        guard let a = activations, let d = dActivations, d.scratch.count > 0 else { return [] }
        return Cell.nonlinearities(xh: a.xh, cache: a.cache, h: a.h, dH: d.h, scratch: d.scratch, rows: 0..<a.steps.rows)
    }

    /// makemore's recipe (`TrainingOptions.makemore`) for 10,000 steps.
    public static var defaultOptions: TrainingOptions { .makemore(steps: 10_000) }

    /// Floating-point operations of the products of one step at `blockSize / 2` positions per
    /// word: per position, three products (forward, `dx`, `dW`) of each cell Linear and of `lm_head`.
    public func matmulFlops(batchSize: Int) -> Double {
        let e = Double(config.embeddingSize), h = Double(config.hiddenSize), v = Double(config.vocabularySize)
        let m = Double(batchSize) * Double(config.blockSize) / 2
        return 3 * 2 * m * (Double(Cell.linearNames.count) * (e + h) * h + h * v)
    }

    public func loss(on dataset: Dataset) -> Double {
        loss(on: dataset, chunk: 256)
    }

    /// Words: each costs a forward per element of every checked tensor.
    public static var gradientCheckBatchSize: Int { 4 }

    public static func gradientPass<U: Scalar>(
        config: RecurrentConfig<Cell>, parameters: ParameterTable<U>, batch: WordBatch
    ) throws -> any GradientPass<U> {
        try RecurrentPass<U, Cell>(parameters: parameters, config: config, batch: batch)
    }
}
