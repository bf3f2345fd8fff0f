/// The shape of an MLP: an embedding table, `hiddenLayers` blocks of Linear -> BatchNorm1d -> Tanh,
/// and an output Linear. The defaults are the lecture's: 4,137 parameters on 27 characters.
public struct ModelConfig: Equatable, Sendable {
    public var vocabularySize: Int
    /// Width of one character's embedding.
    public var embeddingSize: Int = 10
    /// Width of each hidden layer.
    public var hiddenSize: Int = 64
    /// Number of previous characters the model sees.
    public var blockSize: Int = 3
    /// Number of Linear -> BatchNorm1d -> Tanh blocks.
    public var hiddenLayers: Int = 1
    /// Added to the batch-norm variance before the square root.
    public var epsilon: Double = 1e-5
    /// Weight of the new batch statistics in the running ones: `running = (1 - m) running + m batch`.
    public var momentum: Double = 0.001

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
        if vocabularySize < 2 { throw MakemoreError("the vocabulary needs at least one character besides '.'") }
        if !(epsilon > 0 && epsilon.isFinite) { throw MakemoreError("epsilon must be positive, got \(epsilon)") }
        if !(momentum >= 0 && momentum <= 1) { throw MakemoreError("--momentum must be in 0...1, got \(momentum)") }
    }

    /// Width of the concatenated embeddings of one context: `blockSize * embeddingSize`.
    public var inputSize: Int { blockSize * embeddingSize }

    /// Inputs of hidden layer `i` (1-based).
    public func fanIn(ofLayer i: Int) -> Int { i == 1 ? inputSize : hiddenSize }

    /// Every tensor of the model by name and shape, trainable parameters first, then the
    /// batch-norm running statistics. The names are used everywhere a tensor is named.
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

    /// Number of trainable parameters.
    public var parameterCount: Int {
        parameterSpecs.filter(\.isTrainable).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }
}

/// A named tensor of a model.
public struct ParameterSpec: Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    /// False for the running statistics, which SGD does not touch.
    public var isTrainable: Bool = true
}
