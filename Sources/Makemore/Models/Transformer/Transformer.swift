/// makemore's Transformer: a GPT-2 in miniature reading whole words.
///
///     x = wte[idx] + wpe[pos]                               (rows, C)   rows: the batch's positions
///     for each block i:
///       x = x + c_proj(attention(c_attn(ln_1(x))))          causal, `heads` heads
///       x = x + mlp.c_proj(gelu(mlp.c_fc(ln_2(x))))         4C wide
///     logits = lm_head(ln_f(x))                             (rows, vocab)
///     loss   = mean over positions of cross_entropy(logits, targets)
///
/// A batch is a `WordBatch`: the positions of its words packed as rows. Every layer but the
/// attention works row by row; the attention works word by word (`CausalSelfAttention`).
///
/// Read `forward`, `backward` and `update`: the plain path, one thread, as llm.c's
/// `gpt2_forward`, `gpt2_backward`, `gpt2_update`. The backward zeroes every gradient once, and
/// each layer's backward adds into its gradients.
///
/// Training runs the fast path (`trainingStep`, `forwardBackward`, and AdamW's step):
/// `TransformerFastStep`, the same numbers bit for bit in buffers made once, shared by up to two
/// threads (`threads`).
public final class Transformer<T: Scalar> {
    public let config: TransformerConfig
    /// Every tensor, in the layout of `config.parameterSpecs`.
    public let parameters: ParameterTable<T>
    /// Typed views of `parameters.values` and of `parameters.gradients`.
    public let p: TransformerParameters<T>
    /// The same views of `parameters.gradients`: where the backward writes.
    public let dp: TransformerParameters<T>
    /// The layers, over those views. `wte[idx] + wpe[pos]`: `(rows, C)`.
    public let embedding: PositionEmbedding<T>
    /// The `layers` blocks, in order.
    public let blocks: [Block]
    /// The final LayerNorm, `ln_f`, before the head.
    public let lnF: LayerNorm<T>
    /// `lm_head`: `(vocab, C)` without bias, `(rows, C) -> (rows, vocab)` logits.
    public let lmHead: TorchLinear<T>
    /// Threads a training step may use (the plain path uses one).
    public var threads = 1

    /// One block: `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
    public struct Block {
        /// `ln_1`, before the attention: `(rows, C)`.
        public let ln1: LayerNorm<T>
        /// `attn.c_attn`: `(rows, C) -> (rows, 3C)`, the queries, keys and values side by side.
        public let cAttn: TorchLinear<T>
        /// Causal self-attention over each word's positions: `(rows, 3C) -> (rows, C)`.
        public let attention: CausalSelfAttention
        /// `attn.c_proj`: `(rows, C) -> (rows, C)`.
        public let attnProj: TorchLinear<T>
        /// `ln_2`, before the MLP: `(rows, C)`.
        public let ln2: LayerNorm<T>
        /// `mlp.c_fc`: `(rows, C) -> (rows, 4C)`, then GELU.
        public let fc: TorchLinear<T>
        /// `mlp.c_proj`: `(rows, 4C) -> (rows, C)`.
        public let mlpProj: TorchLinear<T>
    }

    public init(config: TransformerConfig, parameters: ParameterTable<T>) {
        precondition(parameters.entries.map(\.spec) == config.parameterSpecs, "parameters do not match the configuration")
        self.config = config
        self.parameters = parameters
        let p = TransformerParameters(config, parameters, parameters.values)
        let dp = TransformerParameters(config, parameters, parameters.gradients)
        self.p = p
        self.dp = dp
        let eps = T(config.epsilon)
        func layerNorm(_ p: TransformerParameters<T>.Norm, _ dp: TransformerParameters<T>.Norm) -> LayerNorm<T> {
            LayerNorm(weight: p.weight, bias: p.bias, dWeight: dp.weight, dBias: dp.bias, epsilon: eps)
        }
        func linear(_ p: TransformerParameters<T>.Affine, _ dp: TransformerParameters<T>.Affine) -> TorchLinear<T> {
            TorchLinear(weight: p.weight, bias: p.bias, dWeight: dp.weight, dBias: dp.bias)
        }
        embedding = PositionEmbedding(tokens: p.wte, positions: p.wpe, dTokens: dp.wte, dPositions: dp.wpe)
        blocks = zip(p.blocks, dp.blocks).map { p, dp in
            Block(
                ln1: layerNorm(p.ln1, dp.ln1), cAttn: linear(p.cAttn, dp.cAttn),
                attention: CausalSelfAttention(heads: config.heads, width: config.embeddingSize),
                attnProj: linear(p.attnProj, dp.attnProj), ln2: layerNorm(p.ln2, dp.ln2), fc: linear(p.fc, dp.fc),
                mlpProj: linear(p.mlpProj, dp.mlpProj))
        }
        lnF = layerNorm(p.lnF, dp.lnF)
        lmHead = TorchLinear(weight: p.lmHead, bias: nil, dWeight: dp.lmHead, dBias: nil)
    }

    /// PyTorch's default initial values, drawn in the order the modules are built (makemore sets
    /// no initialisation of its own): `wte`, `wpe ~ N(0, 1)`; every Linear's weight, then bias,
    /// uniform in `±1/√fanIn`; LayerNorm weight 1, bias 0.
    public static func initialParameters(_ config: TransformerConfig, generator: inout SeededGenerator) -> ParameterTable<T> {
        let model = Transformer(config: config, parameters: ParameterTable(specs: config.parameterSpecs))
        model.embedding.initialize(using: &generator)
        for block in model.blocks {
            block.ln1.initialize()
            block.cAttn.initialize(using: &generator)
            block.attnProj.initialize(using: &generator)
            block.ln2.initialize()
            block.fc.initialize(using: &generator)
            block.mlpProj.initialize(using: &generator)
        }
        model.lnF.initialize()
        model.lmHead.initialize(using: &generator)
        return model.parameters
    }

    // MARK: The plain path

    /// The layer outputs of the last `forward`, and what it kept for `backward`.
    public private(set) var activations: TransformerActivations<T>?
    /// The LayerNorm statistics, attention probabilities and softmax the backward reads.
    package private(set) var cache: TransformerCache<T>?
    /// The gradients of those layer outputs, from the last `backward`.
    public private(set) var dActivations: TransformerActivations<T>?

    /// The forward up to the logits: `(batch.rows, vocab)`, in `activations`.
    @discardableResult
    public func forwardLogits(_ batch: WordBatch) -> Tensor<T> {
        let a = TransformerActivations<T>(config: config, rows: batch.rows)
        let k = TransformerCache<T>(config: config, batch: batch)
        embedding.forward(batch, into: a.residual[0])
        for (i, (block, b)) in zip(blocks, a.blocks).enumerated() {
            let x = a.residual[i], kb = k.blocks[i]
            block.ln1.forward(x, into: b.ln1, mean: kb.ln1Mean, rstd: kb.ln1Rstd)
            block.cAttn.forward(b.ln1, into: b.qkv)
            block.attention.forward(qkv: b.qkv, batch: batch, att: kb.att, into: b.y)
            block.attnProj.forward(b.y, into: b.attnOut)
            Residual.forward(x, b.attnOut, into: b.mid)
            block.ln2.forward(b.mid, into: b.ln2, mean: kb.ln2Mean, rstd: kb.ln2Rstd)
            block.fc.forward(b.ln2, into: b.fc)
            GELU.forward(b.fc, into: b.gelu)
            block.mlpProj.forward(b.gelu, into: b.mlpOut)
            Residual.forward(b.mid, b.mlpOut, into: a.residual[i + 1])
        }
        lnF.forward(a.residual[config.layers], into: a.lnF, mean: k.lnFMean, rstd: k.lnFRstd)
        lmHead.forward(a.lnF, into: a.logits)
        activations = a
        cache = k
        return a.logits
    }

    /// The forward and the mean cross-entropy over every position of the batch.
    public func forward(_ batch: WordBatch) -> T {
        let logits = forwardLogits(batch), k = cache!
        return batch.targets.withUnsafeBufferPointer {
            CrossEntropy.forward(logits: logits, targets: $0.baseAddress!, probs: k.probs)
        }
    }

    /// The backward of the last `forward`, in reverse: writes every parameter's gradient, and the
    /// gradient of every layer output into `dActivations`.
    public func backward(_ batch: WordBatch) {
        guard let a = activations, let k = cache else { preconditionFailure("backward before forward") }
        let d = TransformerActivations<T>(config: config, rows: batch.rows)  // zeros
        parameters.gradients.base.update(repeating: 0, count: parameters.gradients.count)
        batch.targets.withUnsafeBufferPointer { CrossEntropy.backward(probs: k.probs, targets: $0.baseAddress!, dLogits: d.logits) }
        lmHead.backward(x: a.lnF, dOut: d.logits, dX: d.lnF)
        lnF.backward(x: a.residual[config.layers], mean: k.lnFMean, rstd: k.lnFRstd, dOut: d.lnF, dX: d.residual[config.layers])
        for i in blocks.indices.reversed() {
            let block = blocks[i], b = a.blocks[i], db = d.blocks[i], kb = k.blocks[i]
            Residual.backward(dOut: d.residual[i + 1], dX: db.mid, dF: db.mlpOut)
            block.mlpProj.backward(x: b.gelu, dOut: db.mlpOut, dX: db.gelu)
            GELU.backward(x: b.fc, dOut: db.gelu, dX: db.fc)
            block.fc.backward(x: b.ln2, dOut: db.fc, dX: db.ln2)
            block.ln2.backward(x: b.mid, mean: kb.ln2Mean, rstd: kb.ln2Rstd, dOut: db.ln2, dX: db.mid)
            Residual.backward(dOut: db.mid, dX: d.residual[i], dF: db.attnOut)
            block.attnProj.backward(x: b.y, dOut: db.attnOut, dX: db.y)
            block.attention.backward(qkv: b.qkv, batch: batch, att: kb.att, dY: db.y, dQKV: db.qkv)
            block.cAttn.backward(x: b.ln1, dOut: db.qkv, dX: db.ln1)
            block.ln1.backward(x: a.residual[i], mean: kb.ln1Mean, rstd: kb.ln1Rstd, dOut: db.ln1, dX: d.residual[i])
        }
        embedding.backward(batch, dOut: d.residual[0])
        dActivations = d
    }

    /// SGD: `p -= learningRate · dp` for every parameter.
    public func update(learningRate: T) {
        SGD.step(parameters, learningRate: learningRate)
    }

    // MARK: The fast path

    /// The fast step of the last batch size and thread count.
    private var fastSteps: TransformerFastStep<T>?
    /// Words, positions, and causal pairs `n(n+1)/2` of the words, of every batch trained on by
    /// the fast path (for `matmulFlops`).
    private var trained = (words: 0, positions: 0, pairs: 0)

    /// The fast step for `batch`: buffers for its words at most `blockSize` positions each, made
    /// again only when the batch has more words or the thread count changed.
    func fastStep(for batch: WordBatch) -> TransformerFastStep<T> {
        precondition(batch.blockSize == config.blockSize, "the batch's block size \(batch.blockSize) is not the model's \(config.blockSize)")
        let parts = Swift.max(1, Swift.min(threads, 2))
        trained.words += batch.count
        trained.positions += batch.rows
        for w in 0..<batch.count {
            let n = batch.starts[w + 1] - batch.starts[w]
            trained.pairs += n * (n + 1) / 2
        }
        if let step = fastSteps, step.parts == parts, step.capacity >= batch.count { return step }
        let step = TransformerFastStep(model: self, words: batch.count, parts: parts)
        fastSteps = step
        return step
    }

    // MARK: Use

    /// Words evaluated at a time.
    public static var evaluationWords: Int { 256 }

    /// The mean cross-entropy per position (per character, terminators included) over every word of
    /// `dataset`, `chunk` words at a time.
    public func loss(on dataset: Dataset, chunk: Int = Transformer.evaluationWords) -> Double {
        dataset.meanLossOverWords(chunk: chunk) { Double(forward($0)) }
    }

    /// The logits of the character after `word` (without the start token): `[vocab]`. As
    /// makemore's `generate` crops `idx` (the start token, then the word): the model reads the
    /// last `blockSize` tokens, so a word of `blockSize` characters or more is read without the
    /// start token, as its last `blockSize` characters.
    public func logits(after word: [Int32]) -> Tensor<T> {
        let batch = WordBatch(sampling: word, blockSize: config.blockSize)
        let logits = forwardLogits(batch)
        return logits.rows(batch.rows - 1..<batch.rows).reshaped([config.vocabularySize])
    }
}

/// The Transformer's parameters as typed views of one table (its values, or its gradients), in
/// the order of `TransformerConfig.parameterSpecs`, as llm.c's `ParameterTensors`.
public struct TransformerParameters<T: Scalar> {
    /// A LayerNorm's `[C]` weight and bias.
    public struct Norm {
        /// `[C]`, the scale (PyTorch's initial value 1).
        public let weight: Tensor<T>
        /// `[C]`, the shift (initial value 0).
        public let bias: Tensor<T>
    }

    /// A Linear's `(out, in)` weight and `[out]` bias.
    public struct Affine {
        /// `(out, in)`, PyTorch's layout: `y = x Wᵀ + b`.
        public let weight: Tensor<T>
        /// `[out]`.
        public let bias: Tensor<T>
    }

    /// One block's tensors, `transformer.h.{i}.*`.
    public struct Block {
        /// `ln_1`: `[C]`, `[C]`.
        public let ln1: Norm
        /// `attn.c_attn`: `(3C, C)`, `[3C]`.
        public let cAttn: Affine
        /// `attn.c_proj`: `(C, C)`, `[C]`.
        public let attnProj: Affine
        /// `ln_2`: `[C]`, `[C]`.
        public let ln2: Norm
        /// `mlp.c_fc`: `(4C, C)`, `[4C]`.
        public let fc: Affine
        /// `mlp.c_proj`: `(C, 4C)`, `[C]`.
        public let mlpProj: Affine
    }

    /// `transformer.wte.weight`: `(vocab, C)`, a row per character.
    public let wte: Tensor<T>
    /// `transformer.wpe.weight`: `(blockSize, C)`, a row per position.
    public let wpe: Tensor<T>
    /// `transformer.h.{i}`, one per block.
    public let blocks: [Block]
    /// `transformer.ln_f`: `[C]`, `[C]`.
    public let lnF: Norm
    /// `lm_head.weight`: `(vocab, C)`.
    public let lmHead: Tensor<T>

    init(_ config: TransformerConfig, _ table: ParameterTable<T>, _ storage: TensorStorage<T>) {
        var views = table.views(of: storage)
        let c = config.embeddingSize
        func norm() -> Norm { Norm(weight: views.next([c]), bias: views.next([c])) }
        func affine(_ inputs: Int, _ outputs: Int) -> Affine {
            Affine(weight: views.next([outputs, inputs]), bias: views.next([outputs]))
        }
        wte = views.next([config.vocabularySize, c])
        wpe = views.next([config.blockSize, c])
        blocks = (0..<config.layers).map { _ in
            Block(ln1: norm(), cAttn: affine(c, 3 * c), attnProj: affine(c, c), ln2: norm(), fc: affine(c, 4 * c), mlpProj: affine(4 * c, c))
        }
        lnF = norm()
        lmHead = views.next([config.vocabularySize, c])
        precondition(views.isComplete)
    }
}

/// Every layer output of the Transformer for `rows` positions: the forward's values, or (as the
/// model's `dActivations`) their gradients, which the backward adds into (zeros to start).
public final class TransformerActivations<T: Scalar> {
    /// One block's outputs, in the order the forward computes them.
    public struct Block {
        /// `(rows, C)`: `ln_1(x)`.
        public let ln1: Tensor<T>
        /// `(rows, 3C)`: `c_attn`, the queries, keys and values side by side.
        public let qkv: Tensor<T>
        /// `(rows, C)`: the attention's output, the heads side by side.
        public let y: Tensor<T>
        /// `(rows, C)`: `attn.c_proj(y)`.
        public let attnOut: Tensor<T>
        /// `(rows, C)`: `x + attnOut`, the residual stream between the two halves.
        public let mid: Tensor<T>
        /// `(rows, C)`: `ln_2(mid)`.
        public let ln2: Tensor<T>
        /// `(rows, 4C)`: `mlp.c_fc(ln2)`.
        public let fc: Tensor<T>
        /// `(rows, 4C)`: `gelu(fc)`.
        public let gelu: Tensor<T>
        /// `(rows, C)`: `mlp.c_proj(gelu)`; the block's output is `mid + mlpOut`.
        public let mlpOut: Tensor<T>
    }

    /// Positions of the batch (`WordBatch.rows`): the first dimension of every tensor here.
    public let rows: Int
    /// `layers + 1` of `(rows, C)`: the embeddings, then each block's output.
    public let residual: [Tensor<T>]
    /// Each block's outputs.
    public let blocks: [Block]
    /// `(rows, C)`: `ln_f` of the last block's output.
    public let lnF: Tensor<T>
    /// `(rows, vocab)`: `lm_head(lnF)`.
    public let logits: Tensor<T>

    init(config: TransformerConfig, rows n: Int) {
        let c = config.embeddingSize
        func t(_ width: Int) -> Tensor<T> { Tensor(shape: [n, width]) }
        rows = n
        residual = (0...config.layers).map { _ in t(c) }
        blocks = (0..<config.layers).map { _ in
            Block(ln1: t(c), qkv: t(3 * c), y: t(c), attnOut: t(c), mid: t(c), ln2: t(c), fc: t(4 * c), gelu: t(4 * c), mlpOut: t(c))
        }
        lnF = t(c)
        logits = t(config.vocabularySize)
    }
}

/// What the forward keeps for the backward besides the layer outputs: each LayerNorm's row
/// statistics, each attention's probabilities, and the softmax of the logits.
package final class TransformerCache<T: Scalar> {
    package struct Block {
        package let ln1Mean, ln1Rstd, ln2Mean, ln2Rstd: Tensor<T>  // [rows]
        package let att: Tensor<T>  // per word (heads, T, T): see `CausalSelfAttention.attentionOffsets`
    }

    package let blocks: [Block]
    package let lnFMean, lnFRstd: Tensor<T>  // [rows]
    package let probs: Tensor<T>  // (rows, vocab)

    init(config: TransformerConfig, batch: WordBatch) {
        let n = batch.rows
        let attention = CausalSelfAttention(heads: config.heads, width: config.embeddingSize).attentionOffsets(batch).last!
        blocks = (0..<config.layers).map { _ in
            Block(
                ln1Mean: Tensor(shape: [n]), ln1Rstd: Tensor(shape: [n]), ln2Mean: Tensor(shape: [n]), ln2Rstd: Tensor(shape: [n]),
                att: Tensor(shape: [attention]))
        }
        lnFMean = Tensor(shape: [n])
        lnFRstd = Tensor(shape: [n])
        probs = Tensor(shape: [n, config.vocabularySize])
    }
}

// MARK: The model interface

extension Transformer: LanguageModel where T == Float {
    public typealias TrainingBatch = WordBatch

    public static var name: String { "transformer" }
    public static var summary: String {
        "makemore's Transformer: token and position embeddings, blocks of causal self-attention and a GELU MLP, LayerNorm"
    }

    /// Each block's GELU (`block 1 gelu`, ...): `gelu` of `activations` and `dActivations`, `(rows, 4C)`.
    public var nonlinearities: [NonlinearityOutput] {
        guard let a = activations, let d = dActivations, a.rows == d.rows else { return [] }
        return zip(a.blocks, d.blocks).enumerated().map { i, b in
            NonlinearityOutput(name: "block \(i + 1) gelu", kind: .gelu, output: b.0.gelu, gradient: b.1.gelu)
        }
    }

    /// Threads a training step uses: `threads`, at most 2 (see `TransformerFastStep`).
    public var parallelism: Int { Swift.max(1, Swift.min(threads, 2)) }

    /// `forward`, `backward` and SGD's `update` (unless the loss is not finite) as one
    /// `TransformerFastStep`: the same numbers, bit for bit.
    public func trainingStep(_ batch: WordBatch, learningRate: Float) -> Float {
        fastStep(for: batch).run(batch, learningRate: learningRate)
    }

    /// `forward` and `backward` as one `TransformerFastStep`.
    public func forwardBackward(_ batch: WordBatch) -> Float {
        fastStep(for: batch).run(batch)
    }

    /// AdamW's update runs in the fast step too, shared by its threads.
    public func trainingStep(
        _ batch: WordBatch, optimizer: Optimizer, state: OptimizerState<Float>, learningRate: Double
    ) -> Float {
        guard case .adamW(let adamW) = optimizer else { return trainingStep(batch, learningRate: Float(learningRate)) }
        precondition(state.fits(optimizer, table: parameters), "the optimizer state does not fit the table")
        return fastStep(for: batch).run(batch, adamW: (adamW, state, learningRate))
    }

    /// The recipe of `makemore train --model transformer`: AdamW (betas 0.9, 0.99, eps 1e-8) with
    /// weight decay 0.1, lr 1e-3 on a cosine down to 1e-4, 10,000 steps of 32 words, the dev loss
    /// every 500 steps (`best.safetensors` keeps the lowest): val about 1.99 on the names.
    /// makemore's own recipe (a constant 5e-4, weight decay 0.01) reaches about 2.02 and then
    /// overfits; a tenfold weight decay and a decaying rate got below 2.00 (bench/RESULTS.md). It
    /// stays available: `--lr-schedule constant --lr 5e-4 --weight-decay 0.01`.
    public static var defaultOptions: TrainingOptions {
        var options = TrainingOptions.makemore(steps: 10_000)
        options.optimizer = .adamW(AdamW(weightDecay: 0.1))
        options.learningRate = 1e-3
        options.learningRateSchedule = .cosine
        return options
    }

    /// Floating-point operations of the products of one step at the mean positions per word of
    /// the batches trained on so far (`blockSize` per word before any): per position and block,
    /// three products (forward, `dx`, `dW`) of `c_attn`, `attn.c_proj`, `mlp.c_fc`,
    /// `mlp.c_proj`, and of `lm_head` once; per word of `n` positions, head and block, the
    /// attention's `n(n+1)/2` dot products of `q kᵀ` and of `att v` forward, and four such
    /// backward (`datt`, `dv`, `dq`, `dk`), `hs` multiply-adds each.
    public func matmulFlops(batchSize: Int) -> Double {
        let c = Double(config.embeddingSize), v = Double(config.vocabularySize), l = Double(config.layers)
        let t = Double(config.blockSize)
        let (positions, pairs) = trained.words == 0
            ? (t, t * (t + 1) / 2) : (Double(trained.positions) / Double(trained.words), Double(trained.pairs) / Double(trained.words))
        let m = Double(batchSize) * positions
        let linear = 3 * 2 * m * (l * 12 * c * c + c * v)
        let attention = l * 6 * 2 * Double(batchSize) * pairs * c
        return linear + attention
    }

    public func loss(on dataset: Dataset) -> Double {
        loss(on: dataset, chunk: Transformer.evaluationWords)
    }

    /// Words: each costs a forward per element of every intermediate.
    public static var gradientCheckBatchSize: Int { 4 }

    public static func gradientPass<U: Scalar>(
        config: TransformerConfig, parameters: ParameterTable<U>, batch: WordBatch
    ) throws -> any GradientPass<U> {
        try TransformerPass(parameters: parameters, config: config, batch: batch)
    }
}
