/// The shape of an MLP: an embedding table, `hiddenLayers` layers of Linear -> BatchNorm1d -> Tanh,
/// and an output Linear. The defaults are the seed notebook's: 4,137 parameters on 27 characters
/// (the lecture's recipe, what `train` uses, has 200 hidden features: 12,297).
public struct MLPConfig: ModelConfiguration {
    /// Characters in the vocabulary, `.` included.
    public var vocabularySize: Int
    /// Width of one character's embedding.
    public var embeddingSize: Int = 10
    /// Width of each hidden layer.
    public var hiddenSize: Int = 64
    /// Number of previous characters the model sees.
    public var blockSize: Int = 3
    /// Number of Linear -> BatchNorm1d -> Tanh layers.
    public var hiddenLayers: Int = 1
    /// Added to the batch-norm variance before the square root.
    public var epsilon: Double = 1e-5
    /// Weight of the new batch statistics in the running ones: `running = (1 - m) running + m batch`.
    public var momentum: Double = 0.001
    /// Whether `finishTraining` replaces the running statistics by those of the whole training
    /// split (the lecture's calibration: done for the MLP).
    public var calibrates: Bool = true

    /// A configuration of these sizes (not validated: `validate()` checks them).
    public init(
        vocabularySize: Int, embeddingSize: Int = 10, hiddenSize: Int = 64, blockSize: Int = 3,
        hiddenLayers: Int = 1, epsilon: Double = 1e-5, momentum: Double = 0.001
    ) {
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize
        self.blockSize = blockSize
        self.hiddenLayers = hiddenLayers
        self.epsilon = epsilon
        self.momentum = momentum
    }

    /// Throws a message naming the first size out of range.
    public func validate() throws {
        let sizes: [(String, Int)] = [
            ("vocabulary size", vocabularySize), ("--embed", embeddingSize), ("--hidden", hiddenSize),
            ("--block", blockSize), ("--layers", hiddenLayers),
        ]
        for (name, value) in sizes where value < 1 {
            throw MakemoreError("\(name) must be at least 1, got \(value)")
        }
        let limits = [("--embed", embeddingSize, SizeLimits.width), ("--hidden", hiddenSize, SizeLimits.width),
                      ("--block", blockSize, SizeLimits.block), ("--layers", hiddenLayers, SizeLimits.layers),
                      ("vocabulary size", vocabularySize, SizeLimits.width)]
        for (name, value, limit) in limits where value > limit {
            throw MakemoreError("\(name) must be at most \(limit), got \(value)")
        }
        if vocabularySize < 2 { throw MakemoreError("the vocabulary needs at least one character besides '.'") }
        if !(epsilon > 0 && epsilon.isFinite) { throw MakemoreError("epsilon must be positive, got \(epsilon)") }
        if !(momentum >= 0 && momentum <= 1) { throw MakemoreError("--momentum must be in 0...1, got \(momentum)") }
    }

    /// Width of the concatenated embeddings of one context: `blockSize * embeddingSize`.
    public var inputSize: Int { blockSize * embeddingSize }

    /// Inputs of hidden layer `i` (1-based).
    public func fanIn(ofLayer i: Int) -> Int { i == 1 ? inputSize : hiddenSize }

    /// Every tensor of the model by name and shape, trainable parameters first, then the
    /// batch-norm running statistics: the names of the lecture, used in checkpoints and exports.
    public var parameterSpecs: [ParameterSpec] {
        var specs = [ParameterSpec(name: "C", shape: [vocabularySize, embeddingSize])]
        for i in 1...hiddenLayers {
            specs += [
                ParameterSpec(name: "W\(i)", shape: [fanIn(ofLayer: i), hiddenSize]),
                ParameterSpec(name: "b\(i)", shape: [hiddenSize]),
                ParameterSpec(name: "bngain\(i)", shape: [1, hiddenSize]),
                ParameterSpec(name: "bnbias\(i)", shape: [1, hiddenSize]),
            ]
        }
        specs += [
            ParameterSpec(name: "W\(hiddenLayers + 1)", shape: [hiddenSize, vocabularySize]),
            ParameterSpec(name: "b\(hiddenLayers + 1)", shape: [vocabularySize]),
        ]
        for i in 1...hiddenLayers {
            specs += [
                ParameterSpec(name: "bnmean\(i)", shape: [1, hiddenSize], isTrainable: false),
                ParameterSpec(name: "bnvar\(i)", shape: [1, hiddenSize], isTrainable: false),
            ]
        }
        return specs
    }

    /// Parameters and gradients (float32), and per example of a batch: the embeddings, seven
    /// buffers per hidden layer, and four per output.
    public func trainingBytes(batchSize: Int) -> Double {
        let e = Double(embeddingSize), h = Double(hiddenSize), v = Double(vocabularySize), b = Double(blockSize)
        let layers = Double(hiddenLayers)
        let parameters = v * e + (b * e) * h + (layers - 1) * h * h + layers * 6 * h + h * v + v
        let activations = Double(batchSize) * (2 * b * e + layers * 7 * h + 4 * v)
        return 4 * (2 * parameters + 2 * activations)  // the fast step keeps about a second set
    }

    // MARK: Command line and checkpoints

    public var sizes: ModelSizes {
        ModelSizes(embed: embeddingSize, hidden: hiddenSize, block: blockSize, layers: hiddenLayers, momentum: momentum,
            calibrate: calibrates)
    }

    public var summary: String {
        "embed \(embeddingSize), hidden \(hiddenSize), block \(blockSize), layers \(hiddenLayers): \(parameterCount) parameters"
    }

    public var trainingDetails: String? {
        "batch-norm momentum \(momentum)" + (calibrates ? "" : ", no calibration")
    }

    /// The lecture's recipe for `train` (hidden 200); the seed notebook's 64 hidden features for the checks.
    public init(vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults) throws {
        self.init(
            vocabularySize: vocabularySize, embeddingSize: sizes.embed ?? 10,
            hiddenSize: sizes.hidden ?? (defaults == .training ? 200 : 64), blockSize: sizes.block ?? 3,
            hiddenLayers: sizes.layers ?? 1, momentum: sizes.momentum ?? 0.001)
        calibrates = sizes.calibrate ?? true
        try validate()
    }

    public var metadata: [String: String] {
        [
            "embed": "\(embeddingSize)", "hidden": "\(hiddenSize)", "block": "\(blockSize)", "layers": "\(hiddenLayers)",
            "eps": "\(epsilon)", "momentum": "\(momentum)", "calibrate": "\(calibrates)",
        ]
    }

    public init(metadata: [String: String], vocabularySize: Int) throws {
        let m = MetadataReader(metadata)
        self.init(
            vocabularySize: vocabularySize, embeddingSize: try m.integer("embed"), hiddenSize: try m.integer("hidden"),
            blockSize: try m.integer("block"), hiddenLayers: try m.integer("layers"), epsilon: try m.real("eps"),
            momentum: try m.real("momentum"))
        calibrates = try m.boolean("calibrate", absent: true)  // checkpoints from before the option: calibrated
        try validate()
    }
}

/// Reads typed values from a checkpoint's string metadata, with a message naming the key.
struct MetadataReader {
    let metadata: [String: String]

    init(_ metadata: [String: String]) { self.metadata = metadata }

    func value(_ key: String) throws -> String {
        guard let value = metadata[key] else { throw MakemoreError("metadata lacks '\(key)'") }
        return value
    }

    func integer(_ key: String) throws -> Int {
        let text = try value(key)
        guard let number = Int(text) else { throw MakemoreError("metadata '\(key)' is not an integer: '\(text)'") }
        return number
    }

    /// `true` or `false`; `absent` when the key is missing.
    func boolean(_ key: String, absent: Bool) throws -> Bool {
        guard let text = metadata[key] else { return absent }
        guard let value = Bool(text) else { throw MakemoreError("metadata '\(key)' is not true or false: '\(text)'") }
        return value
    }

    func real(_ key: String) throws -> Double {
        let text = try value(key)
        guard let number = Double(text) else { throw MakemoreError("metadata '\(key)' is not a number: '\(text)'") }
        return number
    }
}
