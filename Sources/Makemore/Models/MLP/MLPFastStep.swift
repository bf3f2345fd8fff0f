/// One training step of an `MLP` (forward in training mode, fused backward, optionally the SGD
/// update) for a batch of `rows` examples, run by one thread or two.
///
/// The mathematics is that of the layers (Layers/); this type decides who computes what, so that
/// two threads share the work without writing to the same memory: moving a cache line that both
/// write between two cores costs more than the arithmetic on it. (Reading what the other thread
/// wrote in an earlier phase is cheap: the processor streams it.)
///
/// The features of every hidden layer are cut into `Partition.featureSlices` (two, unless the
/// layer is narrow), at a multiple of 32 features. Feature slice `f` has its own activations and
/// gradients, `(rows, width)` tensors, and owns the parameters on its side of the cut: `b[f]`,
/// batch-norm's `gain[f]`, `bias[f]` and running statistics, the rows `f` of the weight of the
/// Linear that reads the layer (`W_next[f, :]`, `W_out[f, :]`). Rows and vectors cut at 32
/// elements start on cache-line boundaries in the parameter table. The first Linear's weight
/// (inputs × hidden) is cut by its rows instead. Each thread (a part) takes whole feature slices
/// and computes and updates what they own. The phases, with a wait for all parts after each:
///
///     forward, layer i   per feature slice f: hprebn = x @ W[:, f] + b[f]; batch-norm; tanh;
///                        in the last layer, f's share of the logits, h[:, f] @ W_out[f, :]
///     output             per rows of the batch: logits = b_out + the shares in slice order;
///                        softmax, loss and dlogits of each row
///     backward, layer i  per feature slice f: dh[:, f] (from dlogits, or the sum of the shares
///                        of the layer above) and dW_next[f, :] = h[:, f]ᵀ @ dout_next; tanh;
///                        batch-norm; db[f]; f's share of dx, dhprebn[:, f] @ W[:, f]ᵀ
///     last               per rows r of W1: dW1[r, :] = embcat[:, r]ᵀ @ dhprebn;
///                        part 0: dembcat = the sum of the shares, its scatter into dC
///
/// Sums over the hidden features are formed as shares per feature slice added in slice order,
/// and nothing else depends on the split, so every number is the same for one thread or two.
/// With a learning rate, each parameter is updated by its owner right after its last use.
///
/// This is `MLP.forward`, `backward` and `update` reorganised; the tests hold the two equal
/// (`ModelTests.fastPathEqualsPlainPath`). Its sums over the hidden features are added per slice,
/// which the plain path adds in one run, so the two agree to rounding, not bit for bit.
final class MLPFastStep<T: Scalar>: TeamWork {
    let rows: Int
    let parts: Int
    let config: MLPConfig
    let embedding: Embedding<T>
    let layers: [MLP<T>.HiddenLayer]
    let output: Linear<T>

    /// The features of each feature slice; the batch rows (output phase) and the rows of the first
    /// Linear's weight (last phase) of each part.
    let features: [Range<Int>]
    let batchRows: [Range<Int>]
    let inputs: [Range<Int>]
    /// Per feature slice, per hidden layer: activations, gradients, and the batch-norm of those features.
    let buffers: [[Buffers]]
    let batchNorms: [[BatchNorm1d<T>]]
    /// Per part: the embeddings of the batch, which each part gathers for itself.
    let embcats: [Tensor<T>]
    /// Per feature slice: its share of the logits `(rows, vocab)` and of `dembcat` `(rows, inputs)`.
    let logitShares: [Tensor<T>]
    let embcatShares: [Tensor<T>]
    /// `dhShares[i % 2][b][c]`: from layer i > 0, feature slice b's share of the gradient of layer
    /// i - 1's features in slice c, `(rows, width of c)`. Two sets, since layer i - 1 writes its
    /// own shares while it reads those of layer i.
    let dhShares: [[[Tensor<T>]]]
    let logits, probs, dLogits, rowLosses, dEmbcat: Tensor<T>

    /// One hidden layer's activations and gradients, for the features of one feature slice.
    final class Buffers {
        let hprebn, xhat, hpreact, h, dH, dPreact, dPrebn: Tensor<T>  // (rows, width)
        let inverseStd, scratch: Tensor<T>  // [width], (3, width)

        init(rows n: Int, width: Int) {
            hprebn = Tensor(shape: [n, width])
            xhat = Tensor(shape: [n, width])
            hpreact = Tensor(shape: [n, width])
            h = Tensor(shape: [n, width])
            dH = Tensor(shape: [n, width])
            dPreact = Tensor(shape: [n, width])
            dPrebn = Tensor(shape: [n, width])
            inverseStd = Tensor(shape: [width])
            scratch = Tensor(shape: [3, width])
        }
    }

    init(model: MLP<T>, rows n: Int) {
        let config = model.config
        let parts = model.parallelism
        self.rows = n
        self.parts = parts
        self.config = config
        embedding = model.embedding
        layers = model.hidden
        output = model.output
        features = Partition.featureSlices(config.hiddenSize)
        batchRows = (0..<parts).map { Partition.part($0, of: parts, n) }
        inputs = (0..<parts).map { Partition.part($0, of: parts, config.inputSize) }
        buffers = features.map { f in model.hidden.map { _ in Buffers(rows: n, width: f.count) } }
        batchNorms = features.map { f in
            model.hidden.map { layer in
                let bn = layer.batchNorm
                return BatchNorm1d(
                    gain: bn.gain.slice(f), bias: bn.bias.slice(f), runningMean: bn.runningMean.slice(f),
                    runningVariance: bn.runningVariance.slice(f), dGain: bn.dGain.slice(f), dBias: bn.dBias.slice(f),
                    epsilon: bn.epsilon, momentum: bn.momentum)
            }
        }
        embcats = (0..<parts).map { _ in Tensor(shape: [n, config.inputSize]) }
        logitShares = features.map { _ in Tensor(shape: [n, config.vocabularySize]) }
        embcatShares = features.map { _ in Tensor(shape: [n, config.inputSize]) }
        let features = features
        dhShares = (0..<2).map { _ in
            features.map { _ in config.hiddenLayers > 1 ? features.map { Tensor(shape: [n, $0.count]) } : [] }
        }
        logits = Tensor(shape: [n, config.vocabularySize])
        probs = Tensor(shape: [n, config.vocabularySize])
        dLogits = Tensor(shape: [n, config.vocabularySize])
        rowLosses = Tensor(shape: [n])
        dEmbcat = features.count == 1 ? embcatShares[0] : Tensor(shape: [n, config.inputSize])
    }

    /// The feature slices of part `part`.
    private func slices(of part: Int) -> StrideTo<Int> {
        stride(from: part, to: features.count, by: parts)
    }

    /// The phases, as `WorkerTeam` tasks.
    private enum Phase: Int {
        case forward, output, backward, last
    }

    /// What the parts of the running step read: set by `run` before each phase.
    private var contexts: UnsafePointer<Int32>?
    private var targets: UnsafePointer<Int32>?
    private var learningRate: T?
    private var layer = 0

    /// Runs the step on `contexts (rows, blockSize)` and `targets [rows]`; returns the mean loss.
    /// Updates the parameters when given a learning rate and the loss is finite.
    func run(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, learningRate: T?) -> T {
        let team = WorkerTeam.shared
        self.contexts = contexts
        self.targets = targets
        self.learningRate = nil
        for layer in layers.indices {
            self.layer = layer
            team.run(parts: parts, self, task: Phase.forward.rawValue)
        }
        team.run(parts: parts, self, task: Phase.output.rawValue)
        var total: T = 0
        for i in 0..<rows { total += rowLosses[i] }
        let learningRate = total.isFinite ? learningRate : nil
        self.learningRate = learningRate

        output.biasGradient(dOut: dLogits, outputs: 0..<config.vocabularySize)
        if let learningRate { SGD.step(output.bias!, output.dBias!, learningRate: learningRate) }
        for layer in layers.indices.reversed() {
            self.layer = layer
            team.run(parts: parts, self, task: Phase.backward.rawValue)
        }
        team.run(parts: parts, self, task: Phase.last.rawValue)
        return total / T(rows)
    }

    /// Helper threads reach this through the `TeamWork` witness, which is generic code; the
    /// specialization makes them run the `Float` code the calling thread runs.
    @_specialize(where T == Float)
    func run(task: Int, part: Int) {
        switch Phase(rawValue: task)! {
        case .forward:
            if layer == 0 { embedding.forward(contexts: contexts!, blockSize: config.blockSize, into: embcats[part]) }
            for slice in slices(of: part) { forward(layer: layer, slice: slice, part: part) }
        case .output:
            outputRows(part: part, targets: targets!)
        case .backward:
            for slice in slices(of: part) { backward(layer: layer, slice: slice, part: part, learningRate: learningRate) }
        case .last:
            last(part: part, contexts: contexts!, learningRate: learningRate)
        }
    }

    // MARK: Phases

    private func forward(layer: Int, slice: Int, part: Int) {
        let f = features[slice], b = buffers[slice][layer], linear = layers[layer].linear
        linear.setBias(into: b.hprebn, outputs: f)
        if layer == 0 {
            linear.forward(embcats[part], inputs: 0..<config.inputSize, into: b.hprebn, outputs: f, accumulate: true)
        } else {
            for (other, g) in features.enumerated() {  // x @ W[:, f], one feature slice of x after the other
                linear.forward(buffers[other][layer - 1].h, inputs: g, into: b.hprebn, outputs: f, accumulate: true)
            }
        }
        batchNorms[slice][layer].forwardTraining(b.hprebn, into: b.hpreact, xhat: b.xhat, inverseStd: b.inverseStd)
        Tanh.forward(b.hpreact, into: b.h)
        if layer == layers.count - 1 {
            output.forward(b.h, inputs: f, into: logitShares[slice], outputs: 0..<config.vocabularySize, accumulate: false)
        }
    }

    private func outputRows(part: Int, targets: UnsafePointer<Int32>) {
        let r = batchRows[part], v = config.vocabularySize
        output.setBias(into: logits, outputs: 0..<v, rows: r)
        for share in logitShares {  // rows r of the logits, one share after the other
            VectorMath.add(share.pointer + r.lowerBound * v, into: logits.pointer + r.lowerBound * v, count: r.count * v)
        }
        CrossEntropy.forward(logits: logits, targets: targets, probs: probs, rows: r, losses: rowLosses.pointer)
        CrossEntropy.backward(probs: probs, targets: targets, dLogits: dLogits, rows: r)
    }

    private func backward(layer: Int, slice: Int, part: Int, learningRate: T?) {
        let f = features[slice], b = buffers[slice][layer]
        // dh[:, f], and the rows f of the weight of the layer above: dW_above[f, :] = h[:, f]ᵀ @ dout_above.
        let above = layer == layers.count - 1 ? output : layers[layer + 1].linear
        if layer == layers.count - 1 {
            let all = 0..<config.vocabularySize
            output.inputGradient(dOut: dLogits, outputs: all, into: b.dH, inputs: f, accumulate: false)
            output.weightGradient(x: b.h, inputs: f, dOut: dLogits, outputs: all)
        } else {
            let shares = dhShares[(layer + 1) % 2]
            sumShares(into: b.dH) { shares[$0][slice] }
            for (other, g) in features.enumerated() {
                above.weightGradient(x: b.h, inputs: f, dOut: buffers[other][layer + 1].dPrebn, outputs: g)
            }
        }
        if let learningRate {  // rows f of the weight above, read for the last time just now
            let width = above.outputCount
            SGD.step(above.weight, above.dWeight, learningRate: learningRate, elements: f.lowerBound * width..<f.upperBound * width)
        }
        let batchNorm = batchNorms[slice][layer], linear = layers[layer].linear
        Tanh.backward(out: b.h, dOut: b.dH, dX: b.dPreact)
        batchNorm.backward(dOut: b.dPreact, xhat: b.xhat, inverseStd: b.inverseStd, dX: b.dPrebn, scratch: b.scratch)
        linear.biasGradient(dOut: b.dPrebn, outputs: f)
        if let learningRate {
            SGD.step(batchNorm.gain, batchNorm.dGain, learningRate: learningRate)
            SGD.step(batchNorm.bias, batchNorm.dBias, learningRate: learningRate)
            SGD.step(linear.bias!, linear.dBias!, learningRate: learningRate, elements: f)
        }
        // This slice's share of the gradient of the layer's input, dhprebn[:, f] @ W[:, f]ᵀ, for the
        // embeddings or for each feature slice of the layer below.
        if layer == 0 {
            linear.inputGradient(
                dOut: b.dPrebn, outputs: f, into: embcatShares[slice], inputs: 0..<config.inputSize, accumulate: false)
        } else {
            for (other, g) in features.enumerated() {
                linear.inputGradient(dOut: b.dPrebn, outputs: f, into: dhShares[layer % 2][slice][other], inputs: g, accumulate: false)
            }
        }
    }

    /// Rows `inputs[part]` of the first Linear's weight: `dW1[r, :] = embcat[:, r]ᵀ @ dhprebn`, and their
    /// update. Part 0 then gathers `dembcat`, scatters it into dC and updates C.
    private func last(part: Int, contexts: UnsafePointer<Int32>, learningRate: T?) {
        let r = inputs[part], first = layers[0].linear
        for (slice, g) in features.enumerated() where !r.isEmpty {
            first.weightGradient(x: embcats[part], columns: r, inputs: r, dOut: buffers[slice][0].dPrebn, outputs: g)
        }
        if let learningRate {
            let width = first.outputCount
            SGD.step(first.weight, first.dWeight, learningRate: learningRate, elements: r.lowerBound * width..<r.upperBound * width)
        }
        guard part == 0 else { return }
        if features.count > 1 { sumShares(into: dEmbcat) { embcatShares[$0] } }
        embedding.dTable.fill(0)
        embedding.backward(contexts: contexts, blockSize: config.blockSize, dOut: dEmbcat)
        if let learningRate { SGD.step(embedding.table, embedding.dTable, learningRate: learningRate) }
    }

    /// `total = Σ share(b)` over the feature slices `b`, added in slice order.
    private func sumShares(into total: Tensor<T>, _ share: (Int) -> Tensor<T>) {
        let t = total.pointer
        t.update(from: share(0).pointer, count: total.count)
        for slice in 1..<features.count { VectorMath.add(share(slice).pointer, into: t, count: total.count) }
    }
}
