/// Minibatch training with the hand-written gradients, nothing else, for any `LanguageModel`.
///
/// Each step draws a batch from the training split and runs the model's `trainingStep` (forward,
/// backward, update with `options.optimizer`). Every `evaluationInterval` steps, and at the last,
/// the dev loss is measured in evaluation mode, the best so far is kept in `best`, and the caller
/// may save a checkpoint.
/// Its whole state (parameters, running statistics, optimizer state, generator, step, best dev
/// loss) is in `checkpoint`, so a run resumed from one ends bit for bit where an uninterrupted
/// run would.
public final class Trainer {
    /// The model trained, in place: its parameters move with every step.
    public let model: any LanguageModel
    /// The data: batches come from `splits.train`, the dev loss from `splits.dev`.
    public let splits: Splits
    /// Steps, batch size, learning rate and its decay, evaluation interval, seed.
    public let options: TrainingOptions
    /// The data file, recorded in checkpoints (nil: the bundled names, or data not from a file).
    public let dataPath: String?
    /// Steps completed.
    public private(set) var step: Int
    /// The generator of the batches, after `step` steps.
    public private(set) var generator: SeededGenerator
    /// The training loss and learning rate of every step, and the dev losses measured.
    public private(set) var log: TrainingLog
    /// What the optimizer keeps between steps (AdamW's moments and step count).
    public let optimizerState: OptimizerState<Float>
    /// The lowest dev loss measured so far and its step (nil before the first evaluation).
    public private(set) var best: BestDevLoss?
    /// Whether to measure the dev loss every `evaluationInterval` steps and at the end
    /// (a benchmark times the steps alone).
    var evaluatesDevLoss = true
    /// When set, chooses the model's number of threads as training goes (see `ThreadTuner`);
    /// otherwise `model.threads` stays as it is.
    package var threadTuner: ThreadTuner?
    /// When set, the steps it says are due are looked at (see `Diagnostics`): an extra plain
    /// forward and backward on a copy of the model before the step, the update measured after it.
    /// The steps in between run as without it, and the run's numbers do not change.
    public var diagnostics: Diagnostics?
    private var batch: any Minibatch

    /// What the trainer tells its caller as it goes. The dev loss of an `.evaluation` is the best
    /// so far when `best?.step` is its step (makemore keeps the best checkpoint).
    public enum Event {
        /// A step finished with this training loss.
        case step(Int, loss: Float)
        /// The dev loss was measured after this step.
        case evaluation(Int, devLoss: Double)
        /// `diagnostics` looked at this step.
        case diagnostics(DiagnosticsSnapshot)
    }

    /// How `train` returned.
    public enum Outcome: Equatable {
        /// All `options.steps` steps are done.
        case finished
        /// `shouldStop` asked to stop before the last step; `step` steps are done.
        case stopped
    }

    /// A new run: initial values and batches both drawn from `options.seed`.
    public convenience init<Model: LanguageModel>(
        _ type: Model.Type, config: Model.Configuration, options: TrainingOptions, splits: Splits, dataPath: String?
    ) throws {
        try options.validate()
        try config.checkMemory(batchSize: options.batchSize)
        try Model.checkWordsFit(splits, blockSize: config.blockSize)
        var generator = SeededGenerator(seed: options.seed)
        let model = Model(config: config, parameters: Model.initialParameters(config, generator: &generator))
        self.init(model: model, options: options, splits: splits, step: 0, generator: generator, log: TrainingLog(), dataPath: dataPath)
    }

    /// A new run of a model named on the command line: `sizes`, with the model's training defaults
    /// for the rest; initial values and batches both drawn from `options.seed`.
    public convenience init(
        model type: any LanguageModel.Type, sizes: ModelSizes, defaults: ModelDefaults = .training,
        options: TrainingOptions, splits: Splits, dataPath: String?
    ) throws {
        try options.validate()
        let config = try type.configuration(vocabularySize: splits.vocabulary.count, sizes: sizes, defaults: defaults)
        try config.checkMemory(batchSize: options.batchSize)
        try type.checkWordsFit(splits, blockSize: config.blockSize)
        var generator = SeededGenerator(seed: options.seed)
        let model = try type.make(
            vocabularySize: splits.vocabulary.count, sizes: sizes, defaults: defaults, generator: &generator)
        self.init(model: model, options: options, splits: splits, step: 0, generator: generator, log: TrainingLog(), dataPath: dataPath)
    }

    /// A run at `step` of training `model` with `generator` (a new run, or one resumed from a
    /// checkpoint: see `Checkpoint`), its log so far `log`, its optimizer state `optimizerState`
    /// (fresh when nil, or when it does not fit `options.optimizer`: a run switched from SGD to
    /// AdamW starts AdamW's moments at zero), its best dev loss `best`.
    public init(
        model: any LanguageModel, options: TrainingOptions, splits: Splits, step: Int, generator: SeededGenerator,
        log: TrainingLog, dataPath: String?, optimizerState: OptimizerState<Float>? = nil, best: BestDevLoss? = nil
    ) {
        self.model = model
        if let optimizerState, options.optimizer != .sgd, optimizerState.fits(options.optimizer, table: model.parameters) {
            self.optimizerState = optimizerState
        } else {
            self.optimizerState = OptimizerState(for: options.optimizer, table: model.parameters)
        }
        self.best = best
        self.options = options
        self.splits = splits
        self.step = step
        self.generator = generator
        self.log = log
        self.dataPath = dataPath
        self.batch = model.makeBatch(count: options.batchSize)
        self.log.reserveCapacity(Swift.max(0, options.steps - step))
    }

    /// Whether all `options.steps` steps are done.
    public var isComplete: Bool { step >= options.steps }

    /// Trains until `options.steps` steps are done or `shouldStop` says so (checked before each step).
    ///
    /// A loss that is not finite stops training with an error naming the step, before the
    /// parameters are updated with its gradients.
    @discardableResult
    public func train(shouldStop: () -> Bool = { false }, observe: (Event) throws -> Void = { _ in }) throws -> Outcome {
        var evaluated = true
        while step < options.steps {
            if shouldStop() { return .stopped }
            if threadTuner != nil { model.threads = threadTuner!.threadsForNextStep(restart: evaluated) }
            evaluated = false
            batch.refill(from: splits.train, using: &generator)
            let learningRate = options.learningRate(atStep: step)
            let pending = diagnostics.flatMap { $0.isDue(step: step + 1, lastStep: options.steps) ? $0.prepare(model: model, batch: batch) : nil }
            let loss = model.trainingStep(on: batch, optimizer: options.optimizer, state: optimizerState, learningRate: learningRate)
            guard loss.isFinite else {
                throw MakemoreError(
                    "the training loss became \(loss) at step \(step + 1); training stopped and the last checkpoint is kept; "
                        + "try a smaller --lr")
            }
            step += 1
            log.append(step: step, learningRate: learningRate, loss: loss)
            try observe(.step(step, loss: loss))
            if let pending, let diagnostics {
                try observe(.diagnostics(diagnostics.record(pending, model: model, step: step, learningRate: learningRate)))
            }
            if evaluatesDevLoss && (step % options.evaluationInterval == 0 || step == options.steps) {
                let devLoss = model.loss(on: splits.dev)
                log.recordDevLoss(devLoss, atStep: step)
                if devLoss.isFinite && best.map({ devLoss < $0.devLoss }) ?? true { best = BestDevLoss(step: step, devLoss: devLoss) }
                try observe(.evaluation(step, devLoss: devLoss))
                evaluated = true
            }
        }
        return .finished
    }

    /// The model's last step after training (the MLP: batch-norm calibrated on the training split).
    public func finish() {
        model.finishTraining(on: splits.train)
    }
}

/// The lowest dev loss of a run and the step after which it was measured.
public struct BestDevLoss: Equatable, Sendable {
    /// The step after which it was measured.
    public var step: Int
    /// The dev loss, nats per character.
    public var devLoss: Double

    /// The dev loss `devLoss` measured after step `step`.
    public init(step: Int, devLoss: Double) {
        self.step = step
        self.devLoss = devLoss
    }
}
