import Foundation

/// Everything a run directory's `model.safetensors` holds: the model (its name, configuration,
/// parameters and running statistics), the vocabulary, and the state to resume training bit for
/// bit (the step reached, the options, the random generator, the optimizer's state, the best
/// dev loss so far).
///
/// The file is safetensors: every tensor of the model by the name of its `parameterSpecs`, in
/// float32 (the Transformer's are makemore's `state_dict` names), and in the metadata `format`,
/// `model`, the model's configuration, `vocab`, and the training state (with the learning-rate
/// schedule `lr_schedule`: `step` when absent, as files written before schedules). With AdamW, its moments of each trainable tensor are
/// `optimizer.exp_avg.<name>` and `optimizer.exp_avg_sq.<name>`, its hyper-parameters
/// `adamw_beta1`, `adamw_beta2`, `adamw_eps`, `weight_decay` and its step count
/// `optimizer_step` (readers of the model ignore the `optimizer.` tensors). A file without
/// `optimizer` trained with SGD; one written before models had names (`format` `makemore-mlp`,
/// no `model`) is an MLP's.
public struct Checkpoint {
    /// The trained model (`MLP<Float>`, `WaveNet<Float>`, ...), with its parameters and running
    /// statistics.
    public var model: any LanguageModel
    /// The characters the model was trained on, in index order.
    public var vocabulary: Vocabulary
    /// The run's options (steps, batch size, learning rate and its decay, seed).
    public var options: TrainingOptions
    /// Steps completed.
    public var step: Int
    /// True once training finished (and the model's finishing step ran).
    public var finished: Bool
    /// The generator's state after `step` steps: the batches a resumed run draws next.
    public var generator: SeededGenerator
    /// The data file trained on, or nil for the bundled names.
    public var dataPath: String?
    /// What the optimizer kept between steps (AdamW's moments), or nil (SGD, or none saved).
    public var optimizerState: OptimizerState<Float>?
    /// The lowest dev loss measured before `step`, or nil.
    public var best: BestDevLoss?
    /// What a reader should know about the file (a missing checksum), one line each.
    public var notes: [String] = []

    /// A checkpoint of `model` after `step` steps of a run with `options`; `write(to:)` saves it.
    public init(
        model: any LanguageModel, vocabulary: Vocabulary, options: TrainingOptions, step: Int, finished: Bool,
        generator: SeededGenerator, dataPath: String?, optimizerState: OptimizerState<Float>? = nil,
        best: BestDevLoss? = nil
    ) {
        self.optimizerState = optimizerState
        self.best = best
        self.model = model
        self.vocabulary = vocabulary
        self.options = options
        self.step = step
        self.finished = finished
        self.generator = generator
        self.dataPath = dataPath
    }

    static let format = "makemore"
    /// The format of checkpoints written before models had names: an MLP's.
    static let legacyFormat = "makemore-mlp"

    func safeTensors() throws -> SafeTensors {
        var metadata = [
            "step": "\(step)",
            "finished": "\(finished)",
            "steps": "\(options.steps)",
            "batch": "\(options.batchSize)",
            "lr": "\(options.learningRate)",
            "lr_decay_step": "\(options.learningRateDecayStep)",
            "lr_schedule": options.learningRateSchedule.rawValue,
            "eval_every": "\(options.evaluationInterval)",
            "seed": "\(options.seed)",
            "rng": generator.stateWords.map(String.init).joined(separator: ","),
        ]
        if let dataPath { metadata["data"] = dataPath }
        if let best {
            metadata["best_step"] = "\(best.step)"
            metadata["best_dev_loss"] = "\(best.devLoss)"
        }
        metadata["optimizer"] = options.optimizer.name
        if case .adamW(let adamW) = options.optimizer {
            metadata["adamw_beta1"] = "\(adamW.beta1)"
            metadata["adamw_beta2"] = "\(adamW.beta2)"
            metadata["adamw_eps"] = "\(adamW.epsilon)"
            metadata["weight_decay"] = "\(adamW.weightDecay)"
        }
        var file = try SafeTensors(format: Checkpoint.format, model: model, vocabulary: vocabulary, metadata: metadata)
        if let state = optimizerState, state.firstMoment.count > 0 {
            file.metadata["optimizer_step"] = "\(state.step)"
            let table = model.parameters
            for entry in table.entries where entry.spec.isTrainable {
                try file.add(Checkpoint.firstMomentPrefix + entry.name, floats: state.moment(state.firstMoment, of: entry).array, shape: entry.shape)
                try file.add(Checkpoint.secondMomentPrefix + entry.name, floats: state.moment(state.secondMoment, of: entry).array, shape: entry.shape)
            }
        }
        file.metadata[Checkpoint.checksumKey] = Checkpoint.hex(file.dataChecksum)
        return file
    }

    /// Names of the optimizer's tensors start with this; the model's never do.
    public static let optimizerPrefix = "optimizer."
    /// AdamW's first moment of tensor `name` is `optimizer.exp_avg.<name>` (PyTorch's state name).
    public static let firstMomentPrefix = optimizerPrefix + "exp_avg."
    /// AdamW's second moment of tensor `name` is `optimizer.exp_avg_sq.<name>`.
    public static let secondMomentPrefix = optimizerPrefix + "exp_avg_sq."

    /// The metadata key of the CRC-32C of the tensor data (see `CRC32C`), eight hex digits.
    static let checksumKey = "data_crc32c"

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// Writes the checkpoint atomically: a reader, or a kill at any moment, sees the old file or the new one.
    public func write(to url: URL) throws {
        try safeTensors().write(to: url)
    }

    /// Reads the checkpoint at `url` (a run directory's `model.safetensors`), validating the file
    /// and its checksum; throws a `MakemoreError` that names the file and what is wrong.
    public init(contentsOf url: URL) throws {
        let file = try SafeTensors(contentsOf: url)  // its errors name the file already
        do {
            try self.init(file)
        } catch let error as MakemoreError {
            throw MakemoreError("checkpoint \(url.path): \(error.message)")
        }
    }

    package init(_ file: SafeTensors) throws {
        let metadata = file.metadata
        guard metadata["format"] == Checkpoint.format || metadata["format"] == Checkpoint.legacyFormat else {
            throw MakemoreError(
                "not a makemore model (metadata format is '\(metadata["format"] ?? "missing")', expected '\(Checkpoint.format)')")
        }
        var notes: [String] = []
        if let stored = metadata[Checkpoint.checksumKey] {
            let computed = Checkpoint.hex(file.dataChecksum)
            guard stored == computed else {
                throw MakemoreError(
                    "the tensor data does not match its checksum (CRC-32C \(stored) stored, \(computed) computed): "
                        + "the file is damaged; use another checkpoint or train again")
            }
        } else {
            notes.append("the file has no checksum of its tensor data (written by another tool, or by a version before checksums), so it was not verified")
        }
        let m = MetadataReader(metadata)
        let vocabulary = try Vocabulary(string: try m.value("vocab"))
        let model = try file.model(vocabulary: vocabulary)
        var options = TrainingOptions()
        options.steps = try m.integer("steps")
        options.batchSize = try m.integer("batch")
        options.learningRate = try m.real("lr")
        options.learningRateDecayStep = try m.integer("lr_decay_step")
        let schedule = metadata["lr_schedule"] ?? LearningRateSchedule.step.rawValue  // absent before schedules
        guard let learningRateSchedule = LearningRateSchedule(rawValue: schedule) else {
            throw MakemoreError("metadata 'lr_schedule' is '\(schedule)', not one of \(LearningRateSchedule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        options.learningRateSchedule = learningRateSchedule
        options.evaluationInterval = try m.integer("eval_every")
        guard let seed = UInt64(try m.value("seed")) else { throw MakemoreError("metadata 'seed' is not an unsigned integer") }
        options.seed = seed
        switch metadata["optimizer"] ?? "sgd" {
        case "sgd":
            options.optimizer = .sgd
        case "adamw":
            options.optimizer = .adamW(AdamW(
                beta1: try m.real("adamw_beta1"), beta2: try m.real("adamw_beta2"), epsilon: try m.real("adamw_eps"),
                weightDecay: try m.real("weight_decay")))
        case let other:
            throw MakemoreError("metadata 'optimizer' is '\(other)', not sgd or adamw")
        }
        try options.validate()
        let words = try m.value("rng").split(separator: ",").compactMap { UInt64($0) }
        guard words.count == 4 else { throw MakemoreError("metadata 'rng' must be four unsigned integers") }
        self.init(
            model: model, vocabulary: vocabulary, options: options, step: try m.integer("step"),
            finished: try m.value("finished") == "true", generator: SeededGenerator(stateWords: words),
            dataPath: metadata["data"])
        self.notes = notes
        if step < 0 { throw MakemoreError("metadata 'step' is negative") }
        if metadata["best_step"] != nil || metadata["best_dev_loss"] != nil {
            best = BestDevLoss(step: try m.integer("best_step"), devLoss: try m.real("best_dev_loss"))
        }
        if metadata["optimizer_step"] != nil {
            let optimizerStep = try m.integer("optimizer_step")
            guard optimizerStep <= step else { throw MakemoreError("metadata 'optimizer_step' \(optimizerStep) is past 'step' \(step)") }
            optimizerState = try file.optimizerState(of: model.parameters, step: optimizerStep)
        }
    }
}

extension SafeTensors {
    /// A file of a model: every tensor of its parameter table as F32 by its name, and in the
    /// metadata `format`, `model` (the model's name), its configuration and `vocab`, then
    /// `metadata`. What a checkpoint and a gradient export have in common.
    init(format: String, model: any LanguageModel, vocabulary: Vocabulary, metadata: [String: String]) throws {
        try self.init(
            format: format, modelName: model.name, config: model.config, vocabulary: vocabulary,
            parameters: model.parameters, metadata: metadata)
    }

    init<U: Scalar>(
        format: String, modelName: String, config: any ModelConfiguration, vocabulary: Vocabulary,
        parameters: ParameterTable<U>, metadata: [String: String]
    ) throws {
        var header = config.metadata
        header["format"] = format
        header["model"] = modelName
        header["vocab"] = vocabulary.string
        self.init(metadata: header.merging(metadata) { first, _ in first })
        for entry in parameters.entries {
            try add(entry.name, floats: parameters[entry.name].array.map(Float.init), shape: entry.shape)
        }
    }

    /// The model that this file's metadata names (`model`, an MLP if absent), with its tensors.
    func model(vocabulary: Vocabulary) throws -> any LanguageModel {
        let type = try Models.named(metadata["model"] ?? MLP<Float>.name)
        return try model(type, vocabulary: vocabulary)
    }

    private func model<Model: LanguageModel>(_ type: Model.Type, vocabulary: Vocabulary) throws -> Model {
        let config = try Model.Configuration(metadata: metadata, vocabularySize: vocabulary.count)
        // The file's tensors must have the configuration's shapes before anything is allocated:
        // then the table is no larger than the file (metadata is input, and may be edited).
        let specs = config.parameterSpecs
        for spec in specs {
            guard let entry = entries[spec.name] else { throw MakemoreError("tensor '\(spec.name)' is missing") }
            guard entry.shape == spec.shape else {
                throw MakemoreError(
                    "tensor '\(spec.name)' has shape \(entry.shape) but the configuration (\(config.summary), "
                        + "\(vocabulary.count) characters) needs \(spec.shape)")
            }
        }
        let parameters = ParameterTable<Float>(specs: specs)
        let expected = Set(parameters.names)
        if let extra = names.first(where: { !expected.contains($0) && !$0.hasPrefix(Checkpoint.optimizerPrefix) }) {
            throw MakemoreError("unexpected tensor '\(extra)' for the \(Model.name) model (\(config.summary))")
        }
        for entry in parameters.entries {
            guard entries[entry.name] != nil else { throw MakemoreError("tensor '\(entry.name)' is missing") }
            let (shape, values) = try floats(entry.name)
            guard shape == entry.shape else {
                throw MakemoreError(
                    "tensor '\(entry.name)' has shape \(shape) but the configuration (\(config.summary), "
                        + "\(vocabulary.count) characters) needs \(entry.shape)")
            }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw MakemoreError(
                    "tensor '\(entry.name)' holds \(values[bad]) at element \(bad): the model is damaged or diverged; "
                        + "use an earlier checkpoint or train again")
            }
            let tensor = parameters[entry.name]
            for i in 0..<values.count { tensor[i] = values[i] }
        }
        return Model(config: config, parameters: parameters)
    }

    /// AdamW's state for `table` saved in this file: both moments of every trainable tensor.
    func optimizerState(of table: ParameterTable<Float>, step: Int) throws -> OptimizerState<Float> {
        guard step >= 0 else { throw MakemoreError("metadata 'optimizer_step' is negative") }
        let state = OptimizerState(for: .adamW(AdamW()), table: table)
        state.step = step
        for entry in table.entries where entry.spec.isTrainable {
            for (prefix, storage) in [(Checkpoint.firstMomentPrefix, state.firstMoment), (Checkpoint.secondMomentPrefix, state.secondMoment)] {
                let name = prefix + entry.name
                guard entries[name] != nil else { throw MakemoreError("tensor '\(name)' is missing (metadata 'optimizer_step' says AdamW's state was saved)") }
                let (shape, values) = try floats(name)
                guard shape == entry.shape else { throw MakemoreError("tensor '\(name)' has shape \(shape), not \(entry.shape) like '\(entry.name)'") }
                if let bad = values.firstIndex(where: { !$0.isFinite || (prefix == Checkpoint.secondMomentPrefix && $0 < 0) }) {
                    throw MakemoreError("tensor '\(name)' holds \(values[bad]) at element \(bad): the optimizer state is damaged")
                }
                let tensor = state.moment(storage, of: entry)
                for i in 0..<values.count { tensor[i] = values[i] }
            }
        }
        return state
    }
}

extension Trainer {
    /// A run resumed from a checkpoint and the log written with it (pass `TrainingLog()` to
    /// keep no earlier steps); `options` may give more steps than the checkpoint's.
    public convenience init(resuming checkpoint: Checkpoint, options: TrainingOptions, splits: Splits, log: TrainingLog) throws {
        try options.validate()
        try checkpoint.model.config.checkMemory(batchSize: options.batchSize)
        guard checkpoint.step <= options.steps else {
            throw MakemoreError("the checkpoint is at step \(checkpoint.step), past --steps \(options.steps)")
        }
        try type(of: checkpoint.model).checkWordsFit(splits, blockSize: checkpoint.model.config.blockSize)
        self.init(
            model: checkpoint.model, options: options, splits: splits,
            step: checkpoint.step, generator: checkpoint.generator, log: log.truncated(toStep: checkpoint.step),
            dataPath: checkpoint.dataPath, optimizerState: checkpoint.optimizerState, best: checkpoint.best)
    }

    /// The state to save: resuming from it continues this run exactly.
    public func checkpoint(finished: Bool = false) -> Checkpoint {
        Checkpoint(
            model: model, vocabulary: splits.vocabulary, options: options, step: step, finished: finished,
            generator: generator, dataPath: dataPath, optimizerState: optimizerState, best: best)
    }
}
