/// The shape of the lecture's WaveNet (makemore part 5): an embedding, then one level per halving
/// of the context, each `FlattenConsecutive(2) -> Linear (no bias) -> BatchNorm1d -> Tanh`, then
/// an output Linear. The defaults are the lecture's "scaled up" version: embed 24, hidden 128,
/// block 8 (three levels), 76,579 parameters on 27 characters.
public struct WaveNetConfig: ModelConfiguration {
    /// Characters in the vocabulary, `.` included.
    public var vocabularySize: Int
    /// Width of one character's embedding.
    public var embeddingSize: Int = 24
    /// Width of each level.
    public var hiddenSize: Int = 128
    /// Number of previous characters the model sees: a power of two, one level per halving.
    public var blockSize: Int = 8
    /// Added to the batch-norm variance before the square root.
    public var epsilon: Double = 1e-5
    /// Weight of the new batch statistics in the running ones (the lecture's 0.1 here).
    public var momentum: Double = 0.1
    /// Whether `finishTraining` replaces the running statistics by those of the whole training
    /// split (the lecture's calibration: not done for the WaveNet, which evaluates with its running statistics).
    public var calibrates: Bool = false

    /// A configuration of these sizes (not validated: `validate()` checks them).
    public init(
        vocabularySize: Int, embeddingSize: Int = 24, hiddenSize: Int = 128, blockSize: Int = 8,
        epsilon: Double = 1e-5, momentum: Double = 0.1
    ) {
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize
        self.blockSize = blockSize
        self.epsilon = epsilon
        self.momentum = momentum
    }

    /// Throws a message naming the first size out of range.
    public func validate() throws {
        for (name, value) in [("--embed", embeddingSize), ("--hidden", hiddenSize)] where value < 1 {
            throw MakemoreError("\(name) must be at least 1, got \(value)")
        }
        for (name, value) in [("--embed", embeddingSize), ("--hidden", hiddenSize), ("vocabulary size", vocabularySize)]
        where value > SizeLimits.width {
            throw MakemoreError("\(name) must be at most \(SizeLimits.width), got \(value)")
        }
        guard blockSize >= 2 && blockSize <= 1024 && blockSize & (blockSize - 1) == 0 else {
            throw MakemoreError(
                "--block must be a power of two from 2 to 1024 for wavenet (one level per halving: 8 gives three), got \(blockSize)")
        }
        if vocabularySize < 2 { throw MakemoreError("the vocabulary needs at least one character besides '.'") }
        if !(epsilon > 0 && epsilon.isFinite) { throw MakemoreError("epsilon must be positive, got \(epsilon)") }
        if !(momentum >= 0 && momentum <= 1) { throw MakemoreError("--momentum must be in 0...1, got \(momentum)") }
    }

    /// Number of levels: `log2(blockSize)`.
    public var levels: Int { blockSize.trailingZeroBitCount }

    /// Inputs of level `i` (1-based): two time steps of the embedding, or of the level below.
    public func fanIn(ofLevel i: Int) -> Int { 2 * (i == 1 ? embeddingSize : hiddenSize) }

    /// Rows of level `i`'s activations for a batch of `n`: `n · blockSize / 2^i` (time steps of
    /// all examples; `n` at the last level).
    func rows(ofLevel i: Int, batch n: Int) -> Int { n * (blockSize >> i) }

    /// `C`; per level `W{i}`, `bngain{i}`, `bnbias{i}`; the output `W{L+1}`, `b{L+1}`; then the
    /// running statistics `bnmean{i}`, `bnvar{i}`: the MLP's names, without the levels' biases.
    public var parameterSpecs: [ParameterSpec] {
        var specs = [ParameterSpec(name: "C", shape: [vocabularySize, embeddingSize])]
        for i in 1...levels {
            specs += [
                ParameterSpec(name: "W\(i)", shape: [fanIn(ofLevel: i), hiddenSize]),
                ParameterSpec(name: "bngain\(i)", shape: [1, hiddenSize]),
                ParameterSpec(name: "bnbias\(i)", shape: [1, hiddenSize]),
            ]
        }
        specs += [
            ParameterSpec(name: "W\(levels + 1)", shape: [hiddenSize, vocabularySize]),
            ParameterSpec(name: "b\(levels + 1)", shape: [vocabularySize]),
        ]
        for i in 1...levels {
            specs += [
                ParameterSpec(name: "bnmean\(i)", shape: [1, hiddenSize], isTrainable: false),
                ParameterSpec(name: "bnvar\(i)", shape: [1, hiddenSize], isTrainable: false),
            ]
        }
        return specs
    }

    /// Parameters and gradients (float32), and per example of a batch: the embeddings and seven
    /// buffers per level's rows (`blockSize / 2^i` per example), and four per output.
    public func trainingBytes(batchSize: Int) -> Double {
        let e = Double(embeddingSize), h = Double(hiddenSize), v = Double(vocabularySize), t = Double(blockSize)
        let levels = Double(self.levels)
        let parameters = v * e + 2 * e * h + (levels - 1) * 2 * h * h + levels * 4 * h + h * v + v
        let activations = Double(batchSize) * (2 * t * e + 7 * h * t + 4 * v)  // Σ t/2^i < t
        return 4 * (2 * parameters + activations)
    }

    // MARK: Command line and checkpoints

    public var sizes: ModelSizes {
        ModelSizes(embed: embeddingSize, hidden: hiddenSize, block: blockSize, momentum: momentum, calibrate: calibrates)
    }

    public var summary: String {
        "embed \(embeddingSize), hidden \(hiddenSize), block \(blockSize), levels \(levels): \(parameterCount) parameters"
    }

    public var trainingDetails: String? {
        "batch-norm momentum \(momentum)" + (calibrates ? ", calibrated after training" : "")
    }

    /// The lecture's sizes, for training and for the checks alike.
    public init(vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults) throws {
        if let layers = sizes.layers {
            throw MakemoreError("--layers \(layers) does not apply to wavenet: its levels are log2(--block); leave it out")
        }
        self.init(
            vocabularySize: vocabularySize, embeddingSize: sizes.embed ?? 24, hiddenSize: sizes.hidden ?? 128,
            blockSize: sizes.block ?? 8, momentum: sizes.momentum ?? 0.1)
        calibrates = sizes.calibrate ?? false
        try validate()
    }

    public var metadata: [String: String] {
        ["embed": "\(embeddingSize)", "hidden": "\(hiddenSize)", "block": "\(blockSize)", "eps": "\(epsilon)", "momentum": "\(momentum)",
         "calibrate": "\(calibrates)"]
    }

    public init(metadata: [String: String], vocabularySize: Int) throws {
        let m = MetadataReader(metadata)
        self.init(
            vocabularySize: vocabularySize, embeddingSize: try m.integer("embed"), hiddenSize: try m.integer("hidden"),
            blockSize: try m.integer("block"), epsilon: try m.real("eps"), momentum: try m.real("momentum"))
        calibrates = try m.boolean("calibrate", absent: false)
        try validate()
    }
}
