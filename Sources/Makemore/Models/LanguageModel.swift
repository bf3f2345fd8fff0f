import Foundation

/// What everything outside a model uses: the trainer, checkpoints, sampling, evaluation, the
/// gradient check, exports and the benchmark. A model is one file or folder under `Models/` that
/// conforms, and one line in `Models.all`.
///
/// A model reads like llm.c's `gpt2_forward` / `gpt2_backward` / `gpt2_update`: `forward` runs
/// the layers in training mode on a batch and returns the loss, `backward` writes the gradient of
/// every trainable parameter into `parameters.gradients`, `update` moves the parameters. Those
/// three are the plain, single-thread path a reader learns the model from. `trainingStep` is what
/// the trainer calls; a model may give it a fast path (threads, fused update), tested equal to
/// `forward`, `backward`, `update`.
public protocol LanguageModel: AnyObject {
    /// The model's sizes (`MLPConfig`, `WaveNetConfig`).
    associatedtype Configuration: ModelConfiguration
    /// What one training step reads: context windows (`Batch`) unless the model says otherwise
    /// (the Transformer reads whole words, `WordBatch`).
    associatedtype TrainingBatch: Minibatch = Batch

    /// The name on the command line (`--model`) and in a checkpoint's metadata.
    static var name: String { get }
    /// One line on what the model is, for `--help`.
    static var summary: String { get }
    /// The model's training recipe: what `train` runs when not told otherwise.
    static var defaultOptions: TrainingOptions { get }

    /// The model's sizes.
    var config: Configuration { get }
    /// Every tensor of the model, in the layout of `config.parameterSpecs`.
    var parameters: ParameterTable<Float> { get }

    /// A model over `parameters`, which must have the layout of `config.parameterSpecs`.
    init(config: Configuration, parameters: ParameterTable<Float>)
    /// The model's initial values for `config`, drawn from `generator`.
    static func initialParameters(_ config: Configuration, generator: inout SeededGenerator) -> ParameterTable<Float>

    // MARK: Training

    /// The plain forward in training mode on `batch`: the mean loss.
    func forward(_ batch: TrainingBatch) -> Float
    /// The plain backward of the last `forward`: every trainable parameter's gradient is written.
    func backward(_ batch: TrainingBatch)
    /// Moves every trainable parameter against its gradient.
    func update(learningRate: Float)
    /// `forward`, `backward`, and `update` unless the loss is not finite (the parameters are then
    /// left as they were); returns the loss. Results equal the plain path's (see each model).
    func trainingStep(_ batch: TrainingBatch, learningRate: Float) -> Float
    /// `forward` and `backward` without the update (the gradients for an optimizer that runs
    /// after them, AdamW); returns the loss. A model may give it its fast path, equal to the plain one.
    func forwardBackward(_ batch: TrainingBatch) -> Float
    /// One training step with `optimizer`, whose state between steps is `state` (see the default,
    /// below); a model may run the optimizer's update in its fast path.
    func trainingStep(_ batch: TrainingBatch, optimizer: Optimizer, state: OptimizerState<Float>, learningRate: Double) -> Float
    /// Threads that `trainingStep` and evaluation may share; results do not depend on it.
    var threads: Int { get set }
    /// The most threads that `trainingStep` can use.
    var parallelism: Int { get }
    /// What `finishTraining` does, printed before it runs, or nil when it does nothing.
    var finishingStep: String? { get }
    /// The model's last step after training (the MLP calibrates batch-norm on the training split).
    func finishTraining(on train: Dataset)
    /// Floating-point operations of the matrix products of one training step (`2·m·k·n` each).
    func matmulFlops(batchSize: Int) -> Double

    // MARK: Use

    /// The mean loss over a whole data set, in evaluation mode.
    func loss(on dataset: Dataset) -> Double
    /// The logits of the character after `word` (character indices, without the start token):
    /// `[vocabularySize]`, valid until the next call.
    func logits(after word: [Int32]) -> Tensor<Float>

    // MARK: Diagnostics

    /// Each nonlinearity's output and the gradient arriving at it, from the last plain `forward`
    /// and `backward` (empty before them, and for a model without one: the bigram).
    var nonlinearities: [NonlinearityOutput] { get }
    /// Each batch-norm's input and running statistics after the last plain `forward` (empty for a
    /// model without batch-norm).
    var batchNormInputs: [BatchNormInput] { get }

    // MARK: Checking

    /// One batch through the model's step-by-step forward, with its hand-written backward, for
    /// the gradient check (in Double) and the PyTorch export (in Float).
    static func gradientPass<T: Scalar>(
        config: Configuration, parameters: ParameterTable<T>, batch: TrainingBatch
    ) throws -> any GradientPass<T>
    /// Examples in the batch that `makemore gradcheck` checks unless told (32; fewer where each costs more).
    static var gradientCheckBatchSize: Int { get }
}

extension LanguageModel {
    /// `forwardBackward` (the model's fast path where it has one), then SGD unless the loss is
    /// not finite.
    public func trainingStep(_ batch: TrainingBatch, learningRate: Float) -> Float {
        let loss = forwardBackward(batch)
        if loss.isFinite { update(learningRate: learningRate) }
        return loss
    }

    public func forwardBackward(_ batch: TrainingBatch) -> Float {
        let loss = forward(batch)
        backward(batch)
        return loss
    }

    /// Plain SGD, the lecture's update: `p -= learningRate · dp` for every trainable element.
    public func update(learningRate: Float) {
        SGD.step(parameters, learningRate: learningRate)
    }

    /// One training step with `optimizer`, whose state between steps is `state`: SGD is the
    /// model's own `trainingStep` (a fast path may fold it into the backward); AdamW runs
    /// `forwardBackward`, then `state.update`. Unless the loss is not finite (the parameters are
    /// then left as they were); returns the loss.
    public func trainingStep(
        _ batch: TrainingBatch, optimizer: Optimizer, state: OptimizerState<Float>, learningRate: Double
    ) -> Float {
        if optimizer == .sgd { return trainingStep(batch, learningRate: Float(learningRate)) }
        let loss = forwardBackward(batch)
        if loss.isFinite { state.update(parameters, with: optimizer, learningRate: learningRate) }
        return loss
    }

    public var finishingStep: String? { nil }
    public var batchNormInputs: [BatchNormInput] { [] }

    /// An independent model with a copy of this one's values (gradients zero): what diagnostics
    /// run their extra plain pass on, so that the model trained is not touched.
    public func independentCopy() -> Self {
        Self(config: config, parameters: parameters.copy())
    }

    /// The plain `forward` and `backward` on a batch from `makeBatch`; returns the loss.
    public func plainForwardBackward(on batch: any Minibatch) -> Float {
        let loss = forward(batch as! TrainingBatch)
        backward(batch as! TrainingBatch)
        return loss
    }
    public static var gradientCheckBatchSize: Int { 32 }

    /// A batch of `count` examples of the kind this model trains on, to be refilled: for a caller
    /// that holds `any LanguageModel` (the trainer).
    public func makeBatch(count: Int) -> any Minibatch {
        TrainingBatch(count: count, blockSize: config.blockSize)
    }

    /// `trainingStep` on a batch from `makeBatch`.
    public func trainingStep(on batch: any Minibatch, learningRate: Float) -> Float {
        trainingStep(batch as! TrainingBatch, learningRate: learningRate)
    }

    /// `trainingStep(_:optimizer:state:learningRate:)` on a batch from `makeBatch`.
    public func trainingStep(
        on batch: any Minibatch, optimizer: Optimizer, state: OptimizerState<Float>, learningRate: Double
    ) -> Float {
        trainingStep(batch as! TrainingBatch, optimizer: optimizer, state: state, learningRate: learningRate)
    }
    public func finishTraining(on train: Dataset) {}
    public static var defaultOptions: TrainingOptions { TrainingOptions() }

    /// `Self.name`, for an existential.
    public var name: String { Self.name }

    /// The configuration of `sizes` for this model, `defaults` filling in the rest; validated.
    public static func configuration(
        vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults
    ) throws -> Configuration {
        try Configuration(vocabularySize: vocabularySize, sizes: sizes, defaults: defaults)
    }

    /// A new model of `sizes` with its initial values drawn from `generator`.
    public static func make(
        vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults, generator: inout SeededGenerator
    ) throws -> Self {
        let config = try configuration(vocabularySize: vocabularySize, sizes: sizes, defaults: defaults)
        return Self(config: config, parameters: initialParameters(config, generator: &generator))
    }
}

extension LanguageModel {
    /// Whether the model reads whole words (`WordBatch`) rather than context windows: its block
    /// size must exceed the longest word, and by default is the longest word + 1.
    public static var readsWholeWords: Bool { TrainingBatch.self == WordBatch.self }

    /// Throws unless the model can read every word of `splits` (see `Splits.checkWordsFit`);
    /// nothing for a model of context windows, which reads words of any length.
    public static func checkWordsFit(_ splits: Splits, blockSize: Int) throws {
        if readsWholeWords { try splits.checkWordsFit(blockSize: blockSize) }
    }
}

/// The configuration of a model: its sizes and what the checkpoint records of them.
public protocol ModelConfiguration: Equatable, Sendable {
    /// Characters in the vocabulary, `.` included.
    var vocabularySize: Int { get }
    /// Characters of context the model reads to predict the next one.
    var blockSize: Int { get }
    /// Every tensor of the model by name and shape, trainable parameters first. The names are
    /// those of checkpoints and exports (the only place where tensors are named).
    var parameterSpecs: [ParameterSpec] { get }
    /// The sizes as the command line gives them.
    var sizes: ModelSizes { get }
    /// The sizes and the parameter count, on one line: `embed 10, hidden 200, ...: 12297 parameters`.
    var summary: String { get }
    /// What `train` prints besides `summary`, if anything.
    var trainingDetails: String? { get }
    /// The configuration as checkpoint metadata.
    var metadata: [String: String] { get }
    /// Bytes that training at `batchSize` holds: the parameter table with its gradients, and one
    /// step's activations. A Double, so that absurd sizes cannot overflow.
    func trainingBytes(batchSize: Int) -> Double

    /// The configuration recorded in a checkpoint's metadata; throws a message naming what is wrong.
    init(metadata: [String: String], vocabularySize: Int) throws
    /// The configuration of `sizes`, with `defaults` for what they leave out; validated.
    init(vocabularySize: Int, sizes: ModelSizes, defaults: ModelDefaults) throws
}

extension ModelConfiguration {
    /// Throws, naming the sizes and the memory, if training at `batchSize` would hold more than
    /// three quarters of this machine's memory: a message instead of a failed allocation.
    /// `factor` scales the estimate for work that holds more than training does.
    public func checkMemory(batchSize: Int, factor: Double = 1) throws {
        let needed = factor * trainingBytes(batchSize: batchSize)
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        guard needed > 0.75 * available else { return }
        throw MakemoreError(String(
            format: "%@ at batch %d would need %.1f GB for its parameters and activations, more than this machine's %.1f GB "
                + "allows; choose smaller sizes or a smaller --batch", summaryOfSizes, batchSize, needed / 1e9, available / 1e9))
    }

    /// The sizes without the parameter count (which may not be computable for absurd sizes).
    var summaryOfSizes: String {
        let s = sizes
        return [("embed", s.embed), ("hidden", s.hidden), ("block", s.block), ("layers", s.layers), ("heads", s.heads)]
            .compactMap { name, value in value.map { "\(name) \($0)" } }.joined(separator: ", ")
    }

    /// Number of trainable parameters.
    public var parameterCount: Int {
        parameterSpecs.filter(\.isTrainable).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    public var trainingDetails: String? { nil }
}

/// Which of a model's defaults fill in sizes not given: the recipe's for `train`, smaller ones for
/// the checks (`gradcheck`, `bench`) where the model has them.
public enum ModelDefaults: Sendable {
    /// The recipe's sizes, what `train` uses.
    case training
    /// Smaller sizes for the gradient check and the benchmark, where the model has them.
    case checking
}

/// The largest sizes any model accepts: far beyond what trains on one machine, small enough that
/// a parameter count or a buffer size cannot overflow `Int`. (`checkMemory` is the real limit.)
enum SizeLimits {
    static let width = 1 << 20  // --embed, --hidden
    static let block = 1 << 16  // --block
    static let layers = 1_000  // --layers
}

/// The sizes of a model as the command line gives them; a model reads those it has.
public struct ModelSizes: Equatable, Sendable {
    /// Width of one character's embedding (`--embed`).
    public var embed: Int?
    /// Width of each hidden layer (`--hidden`).
    public var hidden: Int?
    /// Characters of context (`--block`).
    public var block: Int?
    /// Hidden layers (`--layers`).
    public var layers: Int?
    /// Attention heads (`--heads`).
    public var heads: Int?
    /// Batch-norm momentum of the running statistics (`--momentum`).
    public var momentum: Double?
    /// Whether batch-norm's running statistics are replaced by those of the whole training split
    /// after training (`--calibrate`, `--no-calibrate`).
    public var calibrate: Bool?

    /// Sizes with those not given left to the model's defaults (or a checkpoint's).
    public init(
        embed: Int? = nil, hidden: Int? = nil, block: Int? = nil, layers: Int? = nil, momentum: Double? = nil,
        calibrate: Bool? = nil, heads: Int? = nil
    ) {
        self.embed = embed
        self.hidden = hidden
        self.block = block
        self.layers = layers
        self.momentum = momentum
        self.calibrate = calibrate
        self.heads = heads
    }

    /// Throws if a size given here disagrees with `other` (a checkpoint's), naming the option.
    package func checkAgrees(with other: ModelSizes) throws {
        let given: [(String, Double?, Double?)] = [
            ("--embed", embed.map(Double.init), other.embed.map(Double.init)),
            ("--hidden", hidden.map(Double.init), other.hidden.map(Double.init)),
            ("--block", block.map(Double.init), other.block.map(Double.init)),
            ("--layers", layers.map(Double.init), other.layers.map(Double.init)),
            ("--heads", heads.map(Double.init), other.heads.map(Double.init)),
            ("--momentum", momentum, other.momentum),
        ]
        for (name, value, actual) in given {
            guard let value, value != actual else { continue }
            guard let actual else { throw MakemoreError("\(name) does not apply to the checkpoint's model; leave it out") }
            let shown = name == "--momentum" ? "\(actual)" : "\(Int(actual))"
            let givenText = name == "--momentum" ? "\(value)" : "\(Int(value))"
            throw MakemoreError("\(name) \(givenText) disagrees with the checkpoint's \(shown); leave it out to keep the checkpoint's")
        }
        if let calibrate, let actual = other.calibrate, calibrate != actual {
            throw MakemoreError(
                "--\(calibrate ? "" : "no-")calibrate disagrees with the checkpoint's run; leave it out to keep the checkpoint's")
        }
    }
}

/// The models this tool trains, by name: adding a model adds its line here.
package enum Models {
    package static var all: [any LanguageModel.Type] {
        [
            MLP<Float>.self,
            WaveNet<Float>.self,
            Transformer<Float>.self,
            Bigram<Float>.self,
            BoW<Float>.self,
            RNN<Float>.self,
            GRU<Float>.self,
        ]
    }

    package static var names: [String] { all.map { $0.name } }

    /// The model called `name`; throws a message listing the models.
    package static func named(_ name: String) throws -> any LanguageModel.Type {
        guard let model = all.first(where: { $0.name == name }) else {
            throw MakemoreError("unknown model '\(name)'; choose one of: \(names.joined(separator: ", "))")
        }
        return model
    }
}

extension WordBatch {
    /// What a word model's gradient pass needs of its batch: a word at least, and the model's
    /// block size.
    package func checkForGradientPass(blockSize: Int) throws {
        guard count >= 1 else { throw MakemoreError("the gradient check needs at least one word") }
        guard self.blockSize == blockSize else {
            throw MakemoreError("the batch's block size \(self.blockSize) is not the model's \(blockSize)")
        }
    }
}

/// One batch through a model's step-by-step forward, every parameter and intermediate kept by
/// name, and the hand-written backward through all of them: what the gradient check compares
/// with finite differences, and what `--export` writes for the PyTorch check.
public protocol GradientPass<T> {
    /// The scalar type of the pass: `Double` for the gradient check, `Float` for the export.
    associatedtype T: Scalar
    /// What the pass reads: the model's `LanguageModel.TrainingBatch`.
    associatedtype TrainingBatch: Minibatch

    /// The batch the pass ran on.
    var batch: TrainingBatch { get }
    /// The mean loss of the batch, in nats.
    var loss: T { get }
    /// Every parameter used and every intermediate, by name.
    var values: [String: Tensor<T>] { get }
    /// The tensors whose gradients are checked, in the order of the printed table.
    var gradientOrder: [String] { get }
    /// The hand-written gradient of the loss with respect to every tensor of `gradientOrder`.
    func backward() -> [String: Tensor<T>]
    /// The loss with the tensor `name` replaced by `value`, everything after it computed again.
    func loss(replacing name: String, with value: Tensor<T>) -> T
    /// Gradients of the model's training code (its layers' fused backward) on the same batch,
    /// for tensors that the step-by-step backward also has: `(name, gradient)` in table order.
    func modelGradients() -> [(name: String, gradient: Tensor<T>)]
}
