/// The shape of makemore's `RNN` with the cell `Cell` (`RNNCell` or `GRUCell`): characters
/// embedded in `embeddingSize` (n_embd), a state of `hiddenSize` (n_embd2), words of at most
/// `blockSize` positions. makemore's defaults: n_embd 64, n_embd2 64.
public struct RecurrentConfig<Cell: RecurrentCell>: ModelConfiguration {
    public var vocabularySize: Int
    /// `n_embd`: width of a character's embedding.
    public var embeddingSize: Int = 64
    /// `n_embd2`: width of the state `h`.
    public var hiddenSize: Int = 64
    /// `block_size`: the most positions a word takes (its characters plus one).
    public var blockSize: Int = 16

    /// A configuration of these sizes, not validated (see `validate()`); makemore's by default.
    public init(vocabularySize: Int, embeddingSize: Int = 64, hiddenSize: Int = 64, blockSize: Int = 16) {
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize
        self.blockSize = blockSize
    }

    /// Throws a message naming the first size out of range.
    public func validate() throws {
        for (name, value) in [("--embed", embeddingSize), ("--hidden", hiddenSize), ("--block", blockSize)] where value < 1 {
            throw MakemoreError("\(name) must be at least 1, got \(value)")
        }
        for (name, value, limit) in [
            ("--embed", embeddingSize, SizeLimits.width), ("--hidden", hiddenSize, SizeLimits.width),
            ("vocabulary size", vocabularySize, SizeLimits.width), ("--block", blockSize, SizeLimits.block),
        ] where value > limit {
            throw MakemoreError("\(name) must be at most \(limit), got \(value)")
        }
        if vocabularySize < 2 { throw MakemoreError("the vocabulary needs at least one character besides '.'") }
    }

    /// makemore's state_dict, in its order: `start (1, H)`, `wte.weight (vocab, E)`, the cell's
    /// Linears `cell.<name>.weight (H, E + H)`, `.bias [H]`, then `lm_head.weight (vocab, H)`,
    /// `lm_head.bias [vocab]`.
    public var parameterSpecs: [ParameterSpec] {
        let e = embeddingSize, h = hiddenSize, v = vocabularySize
        var specs = [ParameterSpec(name: "start", shape: [1, h]), ParameterSpec(name: "wte.weight", shape: [v, e])]
        for name in Cell.linearNames {
            specs += [ParameterSpec(name: "cell.\(name).weight", shape: [h, e + h]), ParameterSpec(name: "cell.\(name).bias", shape: [h])]
        }
        return specs + [ParameterSpec(name: "lm_head.weight", shape: [v, h]), ParameterSpec(name: "lm_head.bias", shape: [v])]
    }

    /// Parameters and gradients (float32), and per position (at most `blockSize` per word) `xh`,
    /// the cell's cache, `h`, the logits and the softmax, and their gradients.
    public func trainingBytes(batchSize: Int) -> Double {
        let e = Double(embeddingSize), h = Double(hiddenSize), v = Double(vocabularySize), t = Double(blockSize)
        let gates = Double(Cell.linearNames.count)
        let parameters = h + v * e + gates * (h * (e + h) + h) + v * h + v
        let cache = Double(Cell.cacheWidths(embed: embeddingSize, hidden: hiddenSize).reduce(0, +))
        let perPosition = 2 * (e + h + cache + h + v) + v
        return 4 * (2 * parameters + Double(batchSize) * t * perPosition)
    }

    // MARK: Command line and checkpoints

    public var sizes: ModelSizes { ModelSizes(embed: embeddingSize, hidden: hiddenSize, block: blockSize) }

    public var summary: String {
        "embed \(embeddingSize), hidden \(hiddenSize), block \(blockSize): \(parameterCount) parameters"
    }

    /// makemore's sizes (64, 64) for training; 16 and 12 for the checks (`gradcheck`), since
    /// finite differences cost a forward per element.
    public init(vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults) throws {
        if let layers = sizes.layers {
            throw MakemoreError("--layers \(layers) does not apply to \(Cell.modelName): it has one cell; leave it out")
        }
        if let heads = sizes.heads {
            throw MakemoreError("--heads \(heads) does not apply to \(Cell.modelName); leave it out")
        }
        let checking = defaults == .checking
        self.init(
            vocabularySize: vocabularySize, embeddingSize: sizes.embed ?? (checking ? 16 : 64),
            hiddenSize: sizes.hidden ?? (checking ? 12 : 64), blockSize: sizes.block ?? 16)
        try validate()
    }

    public var metadata: [String: String] {
        ["embed": "\(embeddingSize)", "hidden": "\(hiddenSize)", "block": "\(blockSize)"]
    }

    public init(metadata: [String: String], vocabularySize: Int) throws {
        let m = MetadataReader(metadata)
        self.init(
            vocabularySize: vocabularySize, embeddingSize: try m.integer("embed"), hiddenSize: try m.integer("hidden"),
            blockSize: try m.integer("block"))
        try validate()
    }
}
