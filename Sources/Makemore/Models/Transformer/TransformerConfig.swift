/// The shape of makemore's Transformer (a GPT-2 in miniature): `layers` blocks of width
/// `embeddingSize` with `heads` attention heads each, over contexts of `blockSize` positions.
/// The defaults are makemore's: n_layer 4, n_head 4, n_embd 64, and block 16 (the longest name
/// plus one), 204,544 parameters on 27 characters (lm_head included).
public struct TransformerConfig: ModelConfiguration {
    public var vocabularySize: Int
    /// `n_embd`: the width of every position's vector, the residual stream.
    public var embeddingSize: Int = 64
    /// `n_layer`: blocks.
    public var layers: Int = 4
    /// `n_head`: attention heads per block, each of `embeddingSize / heads` features.
    public var heads: Int = 4
    /// `block_size`: the most positions a word takes (its characters plus one).
    public var blockSize: Int = 16
    /// LayerNorm's epsilon.
    public var epsilon: Double = 1e-5

    /// A configuration of these sizes, not validated (see `validate()`); makemore's by default.
    public init(
        vocabularySize: Int, embeddingSize: Int = 64, layers: Int = 4, heads: Int = 4, blockSize: Int = 16,
        epsilon: Double = 1e-5
    ) {
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.layers = layers
        self.heads = heads
        self.blockSize = blockSize
        self.epsilon = epsilon
    }

    /// Throws a message naming the first size out of range.
    public func validate() throws {
        for (name, value) in [("--embed", embeddingSize), ("--layers", layers), ("--heads", heads), ("--block", blockSize)] where value < 1 {
            throw MakemoreError("\(name) must be at least 1, got \(value)")
        }
        for (name, value, limit) in [
            ("--embed", embeddingSize, SizeLimits.width / 4), ("--heads", heads, SizeLimits.width),
            ("vocabulary size", vocabularySize, SizeLimits.width), ("--layers", layers, SizeLimits.layers),
            ("--block", blockSize, SizeLimits.block),
        ] where value > limit {
            throw MakemoreError("\(name) must be at most \(limit), got \(value)")
        }
        if embeddingSize % heads != 0 {
            throw MakemoreError("--embed \(embeddingSize) is not a multiple of --heads \(heads): each head takes embed / heads features")
        }
        if vocabularySize < 2 { throw MakemoreError("the vocabulary needs at least one character besides '.'") }
        if !(epsilon > 0 && epsilon.isFinite) { throw MakemoreError("epsilon must be positive, got \(epsilon)") }
    }

    /// Features per head.
    public var headSize: Int { embeddingSize / heads }

    /// makemore's state_dict, in its order: `transformer.wte.weight`, `transformer.wpe.weight`; per
    /// block `transformer.h.{i}.` `ln_1`, `attn.c_attn`, `attn.c_proj`, `ln_2`, `mlp.c_fc`,
    /// `mlp.c_proj` (`.weight`, `.bias`; Linear weights `(out, in)` as PyTorch's); then
    /// `transformer.ln_f`, `lm_head.weight`. (The attention's causal-mask buffer `attn.bias` is
    /// not stored.)
    public var parameterSpecs: [ParameterSpec] {
        let c = embeddingSize, v = vocabularySize
        func spec(_ name: String, _ shape: [Int]) -> ParameterSpec { ParameterSpec(name: name, shape: shape) }
        func layerNorm(_ name: String) -> [ParameterSpec] { [spec("\(name).weight", [c]), spec("\(name).bias", [c])] }
        func linear(_ name: String, _ inputs: Int, _ outputs: Int) -> [ParameterSpec] {
            [spec("\(name).weight", [outputs, inputs]), spec("\(name).bias", [outputs])]
        }
        var specs = [spec("transformer.wte.weight", [v, c]), spec("transformer.wpe.weight", [blockSize, c])]
        for i in 0..<layers {
            let h = "transformer.h.\(i)"
            specs += layerNorm("\(h).ln_1") + linear("\(h).attn.c_attn", c, 3 * c) + linear("\(h).attn.c_proj", c, c)
            specs += layerNorm("\(h).ln_2") + linear("\(h).mlp.c_fc", c, 4 * c) + linear("\(h).mlp.c_proj", 4 * c, c)
        }
        return specs + layerNorm("transformer.ln_f") + [spec("lm_head.weight", [v, c])]
    }

    /// Parameters and gradients (float32), and per position of a batch (at most `blockSize` per
    /// word) the activations and their gradients: about 18 vectors of width C per block, the
    /// attention probabilities, and three of the vocabulary's width.
    public func trainingBytes(batchSize: Int) -> Double {
        let c = Double(embeddingSize), v = Double(vocabularySize), t = Double(blockSize), l = Double(layers)
        let parameters = v * c + t * c + l * (12 * c * c + 13 * c) + 2 * c + v * c
        let perPosition = 2 * (l * (18 * c + Double(heads) * t) + 2 * c) + 3 * v
        return 4 * (2 * parameters + Double(batchSize) * t * perPosition)
    }

    // MARK: Command line and checkpoints

    public var sizes: ModelSizes {
        ModelSizes(embed: embeddingSize, block: blockSize, layers: layers, heads: heads)
    }

    public var summary: String {
        "embed \(embeddingSize), layers \(layers), heads \(heads), block \(blockSize): \(parameterCount) parameters"
    }

    /// makemore's sizes for training; for the checks (`gradcheck`) smaller ones, embed 16, 2
    /// layers, 4 heads, since finite differences cost a forward per element.
    public init(vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults) throws {
        if let hidden = sizes.hidden {
            throw MakemoreError("--hidden \(hidden) does not apply to transformer: its MLP is 4 x --embed wide; leave it out")
        }
        let checking = defaults == .checking
        self.init(
            vocabularySize: vocabularySize, embeddingSize: sizes.embed ?? (checking ? 16 : 64),
            layers: sizes.layers ?? (checking ? 2 : 4), heads: sizes.heads ?? 4, blockSize: sizes.block ?? 16)
        try validate()
    }

    public var metadata: [String: String] {
        ["embed": "\(embeddingSize)", "layers": "\(layers)", "heads": "\(heads)", "block": "\(blockSize)", "eps": "\(epsilon)"]
    }

    public init(metadata: [String: String], vocabularySize: Int) throws {
        let m = MetadataReader(metadata)
        self.init(
            vocabularySize: vocabularySize, embeddingSize: try m.integer("embed"), layers: try m.integer("layers"),
            heads: try m.integer("heads"), blockSize: try m.integer("block"), epsilon: try m.real("eps"))
        try validate()
    }
}
