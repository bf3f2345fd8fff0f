/// The shape of makemore's `Bigram`: one `(vocab, vocab)` table of logits, 729 parameters on 27
/// characters. `blockSize` only says which words fit a batch (the longest word + 1, as for every
/// model that reads whole words); the model itself reads one character.
public struct BigramConfig: ModelConfiguration {
    public var vocabularySize: Int
    /// `block_size` of the data: the most positions a word takes (its characters plus one).
    public var blockSize: Int = 16

    /// A configuration of these sizes, not validated (see `validate()`).
    public init(vocabularySize: Int, blockSize: Int = 16) {
        self.vocabularySize = vocabularySize
        self.blockSize = blockSize
    }

    /// Throws a message naming the first size out of range.
    public func validate() throws {
        if blockSize < 1 { throw MakemoreError("--block must be at least 1, got \(blockSize)") }
        if blockSize > SizeLimits.block { throw MakemoreError("--block must be at most \(SizeLimits.block), got \(blockSize)") }
        if vocabularySize < 2 { throw MakemoreError("the vocabulary needs at least one character besides '.'") }
        if vocabularySize > SizeLimits.width {
            throw MakemoreError("vocabulary size must be at most \(SizeLimits.width), got \(vocabularySize)")
        }
    }

    /// makemore's state_dict: `logits`, `(vocab, vocab)`: row `i` is the logits of the character after `i`.
    public var parameterSpecs: [ParameterSpec] {
        [ParameterSpec(name: "logits", shape: [vocabularySize, vocabularySize])]
    }

    /// The table and its gradient, and per position of a batch the logits, the probabilities and
    /// their gradient.
    public func trainingBytes(batchSize: Int) -> Double {
        let v = Double(vocabularySize)
        return 4 * (2 * v * v + Double(batchSize) * Double(blockSize) * 3 * v)
    }

    // MARK: Command line and checkpoints

    public var sizes: ModelSizes { ModelSizes(block: blockSize) }

    public var summary: String { "block \(blockSize) (data only): \(parameterCount) parameters" }

    /// The bigram has no sizes but the data's block.
    public init(vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults) throws {
        for (name, value) in [("--embed", sizes.embed), ("--hidden", sizes.hidden), ("--layers", sizes.layers), ("--heads", sizes.heads)] {
            if let value { throw MakemoreError("\(name) \(value) does not apply to bigram: it is one table of logits; leave it out") }
        }
        self.init(vocabularySize: vocabularySize, blockSize: sizes.block ?? 16)
        try validate()
    }

    public var metadata: [String: String] { ["block": "\(blockSize)"] }

    public init(metadata: [String: String], vocabularySize: Int) throws {
        self.init(vocabularySize: vocabularySize, blockSize: try MetadataReader(metadata).integer("block"))
        try validate()
    }
}
