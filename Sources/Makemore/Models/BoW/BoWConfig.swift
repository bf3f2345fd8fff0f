/// The shape of makemore's `BoW`: token and position embeddings of width `embeddingSize`
/// (`n_embd`), one block whose MLP is `hiddenSize` (`n_embd2`) wide, over words of at most
/// `blockSize` positions. makemore's defaults: n_embd 64, n_embd2 64, block 16 (the longest
/// name plus one): 12,827 parameters on 27 characters.
public struct BoWConfig: ModelConfiguration {
    public var vocabularySize: Int
    /// `n_embd`: the width of every position's vector.
    public var embeddingSize: Int = 64
    /// `n_embd2`: the width of the block's MLP.
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

    /// makemore's state_dict, in its order: `wte.weight (vocab, C)`, `wpe.weight (block, C)`,
    /// `context_block.mlp.c_fc` `(H, C)`, `[H]`, `context_block.mlp.c_proj` `(C, H)`, `[C]`,
    /// `lm_head` `(vocab, C)`, `[vocab]` (Linear weights `(out, in)`). The causal mask buffer
    /// `context_block.cbow.bias` is not stored.
    public var parameterSpecs: [ParameterSpec] {
        let c = embeddingSize, h = hiddenSize, v = vocabularySize
        func spec(_ name: String, _ shape: [Int]) -> ParameterSpec { ParameterSpec(name: name, shape: shape) }
        return [
            spec("wte.weight", [v, c]), spec("wpe.weight", [blockSize, c]),
            spec("context_block.mlp.c_fc.weight", [h, c]), spec("context_block.mlp.c_fc.bias", [h]),
            spec("context_block.mlp.c_proj.weight", [c, h]), spec("context_block.mlp.c_proj.bias", [c]),
            spec("lm_head.weight", [v, c]), spec("lm_head.bias", [v]),
        ]
    }

    /// Parameters and gradients (float32), and per position the activations and their
    /// gradients: five vectors of width C, two of H, three of the vocabulary's width.
    public func trainingBytes(batchSize: Int) -> Double {
        let c = Double(embeddingSize), h = Double(hiddenSize), v = Double(vocabularySize), t = Double(blockSize)
        let parameters = v * c + t * c + 2 * c * h + h + c + v * c + v
        let perPosition = 2 * (5 * c + 2 * h) + 3 * v
        return 4 * (2 * parameters + Double(batchSize) * t * perPosition)
    }

    // MARK: Command line and checkpoints

    public var sizes: ModelSizes { ModelSizes(embed: embeddingSize, hidden: hiddenSize, block: blockSize) }

    public var summary: String {
        "embed \(embeddingSize), hidden \(hiddenSize), block \(blockSize): \(parameterCount) parameters"
    }

    /// makemore's sizes for training; for the checks (`gradcheck`) smaller ones, embed 16 and
    /// hidden 16, since finite differences cost a forward per element.
    public init(vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults) throws {
        for (name, value) in [("--layers", sizes.layers), ("--heads", sizes.heads)] {
            if let value { throw MakemoreError("\(name) \(value) does not apply to bow: it has one block, no heads; leave it out") }
        }
        let checking = defaults == .checking
        self.init(
            vocabularySize: vocabularySize, embeddingSize: sizes.embed ?? (checking ? 16 : 64),
            hiddenSize: sizes.hidden ?? (checking ? 16 : 64), blockSize: sizes.block ?? 16)
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
