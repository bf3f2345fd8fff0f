/// The training options of a run: the lecture's MLP recipe by default; each model gives its own
/// recipe (`LanguageModel.defaultOptions`), which is why they sit with the models.
public struct TrainingOptions: Equatable, Sendable {
    /// Total number of training steps.
    public var steps = 200_000
    public var batchSize = 32
    public var learningRate: Double = 0.1
    /// From this step on the learning rate is a tenth of `learningRate`.
    public var learningRateDecayStep = 100_000
    /// Evaluate the dev loss and save a checkpoint every this many steps.
    public var evaluationInterval = 10_000
    public var seed: UInt64 = 2_147_483_647
    /// How each step moves the parameters (the learning rate above, on its schedule, for both).
    public var optimizer: Optimizer = .sgd

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
        try optimizer.validate()
    }
}
