/// Minibatch SGD with the hand-written fused gradients, nothing else.
///
/// Each step draws a batch from the training split, runs `MLP.forwardBackward`, and moves every
/// parameter against its gradient. Every `evaluationInterval` steps, and at the last, the dev
/// loss is measured with batch-norm in evaluation mode and the caller may save a checkpoint.
/// Its whole state (parameters, running statistics, generator, step) is in `checkpoint`, so a
/// run resumed from one ends bit for bit where an uninterrupted run would.
public final class Trainer {
    public let model: MLP<Float>
    public let splits: Splits
    public let options: TrainingOptions
    public let dataPath: String?
    /// Steps completed.
    public private(set) var step: Int
    public private(set) var generator: SeededGenerator
    public private(set) var log: TrainingLog
    /// Whether to measure the dev loss every `evaluationInterval` steps and at the end
    /// (a benchmark times the steps alone).
    public var evaluatesDevLoss = true
    /// When set, chooses the model's number of threads as training goes (see `ThreadTuner`);
    /// otherwise `model.threads` stays as it is.
    public var threadTuner: ThreadTuner?
    private var batch: Batch

    /// What the trainer tells its caller as it goes.
    public enum Event {
        /// A step finished with this training loss.
        case step(Int, loss: Float)
        /// The dev loss was measured after this step.
        case evaluation(Int, devLoss: Double)
    }

    public enum Outcome: Equatable {
        case finished
        case stopped
    }

    /// A new run: initial values and batches both drawn from `options.seed`.
    public convenience init(config: ModelConfig, options: TrainingOptions, splits: Splits, dataPath: String?) throws {
        try config.validate()
        try options.validate()
        var generator = SeededGenerator(seed: options.seed)
        let model = MLP<Float>(config: config, generator: &generator)
        self.init(model: model, options: options, splits: splits, step: 0, generator: generator, log: TrainingLog(), dataPath: dataPath)
    }

    /// A run resumed from a checkpoint and the log written with it.
    public convenience init(resuming checkpoint: Checkpoint, options: TrainingOptions, splits: Splits, log: TrainingLog) throws {
        try options.validate()
        guard checkpoint.step <= options.steps else {
            throw MakemoreError("the checkpoint is at step \(checkpoint.step), past --steps \(options.steps)")
        }
        self.init(
            model: MLP(config: checkpoint.config, parameters: checkpoint.parameters), options: options, splits: splits,
            step: checkpoint.step, generator: checkpoint.generator, log: log.truncated(toStep: checkpoint.step),
            dataPath: checkpoint.dataPath)
    }

    private init(
        model: MLP<Float>, options: TrainingOptions, splits: Splits, step: Int, generator: SeededGenerator,
        log: TrainingLog, dataPath: String?
    ) {
        self.model = model
        self.options = options
        self.splits = splits
        self.step = step
        self.generator = generator
        self.log = log
        self.dataPath = dataPath
        self.batch = Batch(count: options.batchSize, blockSize: model.config.blockSize)
        self.log.reserveCapacity(Swift.max(0, options.steps - step))
    }

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
            let loss = model.trainingStep(batch, learningRate: Float(learningRate))
            guard loss.isFinite else {
                throw MakemoreError(
                    "the training loss became \(loss) at step \(step + 1); training stopped and the last checkpoint is kept; "
                        + "try a smaller --lr")
            }
            step += 1
            log.append(step: step, learningRate: learningRate, loss: loss)
            try observe(.step(step, loss: loss))
            if evaluatesDevLoss && (step % options.evaluationInterval == 0 || step == options.steps) {
                let devLoss = model.loss(on: splits.dev)
                log.recordDevLoss(devLoss, atStep: step)
                try observe(.evaluation(step, devLoss: devLoss))
                evaluated = true
            }
        }
        return .finished
    }

    /// The lecture's last step: batch-norm's running statistics replaced by the statistics of
    /// the whole training split.
    public func calibrate() {
        model.calibrateBatchNorm(on: splits.train)
    }

    /// The state to save: resuming from it continues this run exactly.
    public func checkpoint(finished: Bool = false) -> Checkpoint {
        Checkpoint(
            config: model.config, vocabulary: splits.vocabulary, parameters: model.parameters, options: options,
            step: step, finished: finished, generator: generator, dataPath: dataPath)
    }
}

/// The per-step record of a run: learning rate and training loss of every step, and the dev
/// loss where it was measured. Written as `log.csv`.
public struct TrainingLog: Equatable, Sendable {
    /// `losses[i]` is the training loss of step `firstStep + i`.
    public private(set) var firstStep = 1
    public private(set) var losses: [Float] = []
    public private(set) var learningRates: [Float] = []
    public private(set) var devLosses: [(step: Int, loss: Double)] = []

    public init() {}

    public var lastStep: Int { firstStep + losses.count - 1 }

    /// Room for `steps` more steps, so that appending does not allocate during training.
    mutating func reserveCapacity(_ steps: Int) {
        losses.reserveCapacity(losses.count + steps)
        learningRates.reserveCapacity(learningRates.count + steps)
    }

    mutating func append(step: Int, learningRate: Double, loss: Float) {
        if losses.isEmpty { firstStep = step }
        precondition(step == lastStep + 1 || losses.isEmpty)
        losses.append(loss)
        learningRates.append(Float(learningRate))
    }

    mutating func recordDevLoss(_ loss: Double, atStep step: Int) {
        devLosses.append((step, loss))
    }

    /// The records of steps up to `step`.
    public func truncated(toStep step: Int) -> TrainingLog {
        var result = self
        let keep = Swift.max(0, Swift.min(losses.count, step - firstStep + 1))
        result.losses.removeSubrange(keep...)
        result.learningRates.removeSubrange(keep...)
        result.devLosses.removeAll { $0.step > step }
        return result
    }

    /// `step,lr,train_loss,dev_loss`, one row per step; `dev_loss` is empty where it was not
    /// measured. Built as UTF-8 bytes directly: at 200,000 steps it is a few megabytes.
    public var csv: [UInt8] {
        var bytes: [UInt8] = []
        appendCSV(to: &bytes, rowsAlreadyWritten: 0)
        return bytes
    }

    /// Appends to `bytes` the CSV rows after the first `rowsAlreadyWritten` (and the header, if
    /// `bytes` is empty), so that a log saved again and again is formatted only once.
    public func appendCSV(to bytes: inout [UInt8], rowsAlreadyWritten: Int) {
        if bytes.isEmpty { bytes += "step,lr,train_loss,dev_loss\n".utf8 }
        bytes.reserveCapacity(bytes.count + (losses.count - rowsAlreadyWritten) * 28)
        var dev = devLosses.lastIndex { $0.step < firstStep + rowsAlreadyWritten }.map { $0 + 1 } ?? 0
        for i in rowsAlreadyWritten..<losses.count {
            let step = firstStep + i
            bytes += "\(step),\(learningRates[i]),\(losses[i]),".utf8
            while dev < devLosses.count && devLosses[dev].step < step { dev += 1 }
            if dev < devLosses.count && devLosses[dev].step == step { bytes += "\(devLosses[dev].loss)".utf8 }
            bytes.append(UInt8(ascii: "\n"))
        }
    }

    /// Parses what `csv` wrote.
    public init(csv: String, source: String = "log.csv") throws {
        var lines = csv.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first == "step,lr,train_loss,dev_loss" else {
            throw MakemoreError("\(source): not a training log (the first line should be 'step,lr,train_loss,dev_loss')")
        }
        lines.removeFirst()
        for (number, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 4, let step = Int(fields[0]), let lr = Float(fields[1]), let loss = Float(fields[2]),
                losses.isEmpty || step == lastStep + 1
            else { throw MakemoreError("\(source):\(number + 2): malformed row '\(line)'") }
            if losses.isEmpty { firstStep = step }
            losses.append(loss)
            learningRates.append(lr)
            if !fields[3].isEmpty {
                guard let dev = Double(fields[3]) else { throw MakemoreError("\(source):\(number + 2): malformed dev loss") }
                devLosses.append((step, dev))
            }
        }
    }

    public static func == (a: TrainingLog, b: TrainingLog) -> Bool {
        a.firstStep == b.firstStep && a.losses == b.losses && a.learningRates == b.learningRates
            && a.devLosses.map(\.step) == b.devLosses.map(\.step) && a.devLosses.map(\.loss) == b.devLosses.map(\.loss)
    }
}
