import Foundation

/// The training options of a run: the lecture's MLP recipe by default; each model gives its own
/// recipe (`LanguageModel.defaultOptions`), which is why they sit with the models.
public struct TrainingOptions: Equatable, Sendable {
    /// Total number of training steps.
    public var steps = 200_000
    /// Examples per step, drawn with replacement from the training split; at least 2 (batch-norm
    /// needs a variance).
    public var batchSize = 32
    /// The learning rate at the start (the SGD or AdamW step size), then on `learningRateSchedule`.
    public var learningRate: Double = 0.1
    /// With the `.step` schedule: from this step on the learning rate is a tenth of `learningRate`.
    public var learningRateDecayStep = 100_000
    /// How the learning rate changes from step to step (the lecture's single tenfold drop by default).
    public var learningRateSchedule: LearningRateSchedule = .step
    /// Evaluate the dev loss and save a checkpoint every this many steps.
    public var evaluationInterval = 10_000
    /// Seed of the initial values and of the batches (the lecture's `2147483647`).
    public var seed: UInt64 = 2_147_483_647
    /// How each step moves the parameters (the learning rate above, on its schedule, for both).
    public var optimizer: Optimizer = .sgd

    /// The lecture's MLP recipe: 200,000 steps of 32 examples, learning rate 0.1 then 0.01 from
    /// step 100,000, the dev loss every 10,000 steps.
    public init() {}

    /// makemore's own recipe (its `train.py` defaults) for `steps` steps: AdamW (betas 0.9 and
    /// 0.99, eps 1e-8, weight decay 0.01) at a constant learning rate of 5e-4, batches of 32
    /// words, the dev loss every 500 steps (`best.safetensors` keeps the lowest).
    public static func makemore(steps: Int) -> TrainingOptions {
        var options = TrainingOptions()
        options.optimizer = .adamW(AdamW(weightDecay: 0.01))
        options.learningRate = 5e-4
        options.learningRateSchedule = .constant
        options.steps = steps
        options.learningRateDecayStep = steps
        options.batchSize = 32
        options.evaluationInterval = 500
        return options
    }

    /// The learning rate of step `step` (0-based): with `.step` the lecture's
    /// `0.1 if i < 100000 else 0.01`; see `LearningRateSchedule` for the others.
    public func learningRate(atStep step: Int) -> Double {
        switch learningRateSchedule {
        case .step:
            return step < learningRateDecayStep ? learningRate : learningRate / 10
        case .constant:
            return learningRate
        case .cosine:
            // lr/10 + (lr - lr/10) · (1 + cos(π · step / (steps - 1))) / 2: lr at step 0, lr/10 at the last.
            let progress = steps > 1 ? Double(Swift.min(step, steps - 1)) / Double(steps - 1) : 1
            let floor = learningRate / 10
            return floor + (learningRate - floor) * (1 + Foundation.cos(Double.pi * progress)) / 2
        }
    }

    /// The schedule in words, as `train` prints it: `0.1, then 0.01 from step 100000`.
    public var learningRateSummary: String {
        switch learningRateSchedule {
        case .step where learningRateDecayStep < steps:
            return "\(learningRate), then \(learningRate / 10) from step \(learningRateDecayStep)"
        case .step, .constant:
            return "\(learningRate) (constant)"
        case .cosine:
            return "\(learningRate), cosine down to \(learningRate / 10) at step \(steps)"
        }
    }

    /// Throws a `MakemoreError` naming the option when a value is out of range: `steps < 0`,
    /// `batchSize < 2`, a learning rate that is not positive and finite, a negative decay step, or
    /// `evaluationInterval < 1`.
    public func validate() throws {
        if steps < 0 { throw MakemoreError("--steps must be 0 or more, got \(steps)") }
        if batchSize < 2 {
            throw MakemoreError("--batch must be at least 2, got \(batchSize) (the MLP's and WaveNet's batch-norm need two examples for a variance; every model keeps that minimum)")
        }
        if !(learningRate > 0 && learningRate.isFinite) { throw MakemoreError("--lr must be a positive number, got \(learningRate)") }
        if learningRateDecayStep < 0 { throw MakemoreError("--lr-decay-step must be 0 or more, got \(learningRateDecayStep)") }
        if evaluationInterval < 1 { throw MakemoreError("--eval-every must be at least 1, got \(evaluationInterval)") }
        try optimizer.validate()
    }
}

/// How the learning rate moves over a run (`--lr-schedule`). Each is a function of the step and
/// of the options alone, so a resumed run takes the same rates as an uninterrupted one.
public enum LearningRateSchedule: String, CaseIterable, Sendable {
    /// `learningRate` until `learningRateDecayStep`, a tenth of it from there on (the lecture's).
    case step
    /// `learningRate` at every step (makemore's recipe for its Transformer).
    case constant
    /// Half a cosine from `learningRate` at the first step down to a tenth of it at the last
    /// (step `steps`): `lr/10 + 0.9·lr·(1 + cos(π·i/(steps - 1)))/2` at step `i` (0-based). A
    /// resume that raises `--steps` stretches the rest of the curve.
    case cosine
}
