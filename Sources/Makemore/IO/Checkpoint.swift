import Foundation

/// The training options of a run: the lecture's recipe by default.
public struct TrainingOptions: Equatable, Sendable {
    /// Total number of SGD steps.
    public var steps = 200_000
    public var batchSize = 32
    public var learningRate: Double = 0.1
    /// From this step on the learning rate is a tenth of `learningRate`.
    public var learningRateDecayStep = 100_000
    /// Evaluate the dev loss and save a checkpoint every this many steps.
    public var evaluationInterval = 10_000
    public var seed: UInt64 = 2_147_483_647

    public init() {}

    /// The learning rate of step `step` (0-based): the lecture's `0.1 if i < 100000 else 0.01`.
    public func learningRate(atStep step: Int) -> Double {
        step < learningRateDecayStep ? learningRate : learningRate / 10
    }

    public func validate() throws {
        if steps < 0 { throw MakemoreError("--steps must be 0 or more, got \(steps)") }
        if batchSize < 2 {
            throw MakemoreError("--batch must be at least 2: batch-norm needs two examples for a variance, got \(batchSize)")
        }
        if !(learningRate > 0 && learningRate.isFinite) { throw MakemoreError("--lr must be a positive number, got \(learningRate)") }
        if learningRateDecayStep < 0 { throw MakemoreError("--lr-decay-step must be 0 or more, got \(learningRateDecayStep)") }
        if evaluationInterval < 1 { throw MakemoreError("--eval-every must be at least 1, got \(evaluationInterval)") }
    }
}

/// Everything a run directory's `model.safetensors` holds: the model (parameters, running
/// statistics, configuration, vocabulary) and the state to resume training bit for bit
/// (the step reached, the options, the random generator).
public struct Checkpoint {
    public var config: ModelConfig
    public var vocabulary: Vocabulary
    public var parameters: ParameterTable<Float>
    public var options: TrainingOptions
    /// Steps completed.
    public var step: Int
    /// True once training finished and batch-norm was calibrated.
    public var finished: Bool
    public var generator: SeededGenerator
    /// The data file trained on, or nil for the bundled names.
    public var dataPath: String?

    public init(
        config: ModelConfig, vocabulary: Vocabulary, parameters: ParameterTable<Float>, options: TrainingOptions,
        step: Int, finished: Bool, generator: SeededGenerator, dataPath: String?
    ) {
        self.config = config
        self.vocabulary = vocabulary
        self.parameters = parameters
        self.options = options
        self.step = step
        self.finished = finished
        self.generator = generator
        self.dataPath = dataPath
    }

    public static let format = "makemore-mlp"

    public func safeTensors() throws -> SafeTensors {
        var metadata = [
            "step": "\(step)",
            "finished": "\(finished)",
            "steps": "\(options.steps)",
            "batch": "\(options.batchSize)",
            "lr": "\(options.learningRate)",
            "lr_decay_step": "\(options.learningRateDecayStep)",
            "eval_every": "\(options.evaluationInterval)",
            "seed": "\(options.seed)",
            "rng": generator.stateWords.map(String.init).joined(separator: ","),
        ]
        if let dataPath { metadata["data"] = dataPath }
        return try SafeTensors(
            format: Checkpoint.format, config: config, vocabulary: vocabulary, parameters: parameters, metadata: metadata)
    }

    /// Writes the checkpoint atomically: a reader, or a kill at any moment, sees the old file or the new one.
    public func write(to url: URL) throws {
        try safeTensors().write(to: url)
    }

    public init(contentsOf url: URL) throws {
        let file = try SafeTensors(contentsOf: url)  // its errors name the file already
        do {
            try self.init(file)
        } catch let error as MakemoreError {
            throw MakemoreError("checkpoint \(url.path): \(error.message)")
        }
    }

    public init(_ file: SafeTensors) throws {
        let metadata = file.metadata
        guard metadata["format"] == Checkpoint.format else {
            throw MakemoreError("not a makemore model (metadata format is '\(metadata["format"] ?? "missing")', expected '\(Checkpoint.format)')")
        }
        func value(_ key: String) throws -> String {
            guard let value = metadata[key] else { throw MakemoreError("metadata lacks '\(key)'") }
            return value
        }
        func integer(_ key: String) throws -> Int {
            guard let number = Int(try value(key)) else { throw MakemoreError("metadata '\(key)' is not an integer: '\(try value(key))'") }
            return number
        }
        func real(_ key: String) throws -> Double {
            guard let number = Double(try value(key)) else { throw MakemoreError("metadata '\(key)' is not a number: '\(try value(key))'") }
            return number
        }
        let vocabulary = try Vocabulary(string: try value("vocab"))
        let config = ModelConfig(
            vocabularySize: vocabulary.count, embeddingSize: try integer("embed"), hiddenSize: try integer("hidden"),
            blockSize: try integer("block"), hiddenLayers: try integer("layers"), epsilon: try real("eps"),
            momentum: try real("momentum"))
        try config.validate()
        var options = TrainingOptions()
        options.steps = try integer("steps")
        options.batchSize = try integer("batch")
        options.learningRate = try real("lr")
        options.learningRateDecayStep = try integer("lr_decay_step")
        options.evaluationInterval = try integer("eval_every")
        guard let seed = UInt64(try value("seed")) else { throw MakemoreError("metadata 'seed' is not an unsigned integer") }
        options.seed = seed
        try options.validate()
        let words = try value("rng").split(separator: ",").compactMap { UInt64($0) }
        guard words.count == 4 else { throw MakemoreError("metadata 'rng' must be four unsigned integers") }

        let parameters = ParameterTable<Float>(specs: config.parameterSpecs)
        let expected = Set(parameters.names)
        if let extra = file.names.first(where: { !expected.contains($0) }) {
            throw MakemoreError("unexpected tensor '\(extra)' for a model with \(config.hiddenLayers) hidden layers")
        }
        for entry in parameters.entries {
            guard file.entries[entry.name] != nil else { throw MakemoreError("tensor '\(entry.name)' is missing") }
            let (shape, values) = try file.floats(entry.name)
            guard shape == entry.shape else {
                throw MakemoreError(
                    "tensor '\(entry.name)' has shape \(shape) but the configuration (embed \(config.embeddingSize), "
                        + "hidden \(config.hiddenSize), block \(config.blockSize), \(vocabulary.count) characters) needs \(entry.shape)")
            }
            let tensor = parameters[entry.name]
            for i in 0..<values.count { tensor[i] = values[i] }
        }
        self.init(
            config: config, vocabulary: vocabulary, parameters: parameters, options: options,
            step: try integer("step"), finished: try value("finished") == "true",
            generator: SeededGenerator(stateWords: words), dataPath: metadata["data"])
        if step < 0 { throw MakemoreError("metadata 'step' is negative") }
    }
}

extension SafeTensors {
    /// A file of a model: every tensor of `parameters` as F32 by its name, and in the metadata
    /// `format`, the configuration and the vocabulary, then `metadata`. What a checkpoint and a
    /// gradient export have in common.
    init(
        format: String, config: ModelConfig, vocabulary: Vocabulary, parameters: ParameterTable<Float>,
        metadata: [String: String]
    ) throws {
        let model = [
            "format": format,
            "embed": "\(config.embeddingSize)",
            "hidden": "\(config.hiddenSize)",
            "block": "\(config.blockSize)",
            "layers": "\(config.hiddenLayers)",
            "eps": "\(config.epsilon)",
            "momentum": "\(config.momentum)",
            "vocab": vocabulary.string,
        ]
        self.init(metadata: model.merging(metadata) { first, _ in first })
        for entry in parameters.entries {
            try add(entry.name, floats: parameters[entry.name].array, shape: entry.shape)
        }
    }
}
