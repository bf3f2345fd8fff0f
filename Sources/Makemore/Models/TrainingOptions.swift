/// The training options of a run: the lecture's MLP recipe by default; each model gives its own
/// recipe (`LanguageModel.defaultOptions`), which is why they sit with the models.
public struct TrainingOptions: Equatable, Sendable {
    /// Total number of training steps.
    public var steps = 200_000
    /// Examples per step, drawn with replacement from the training split; at least 2 (batch-norm
    /// needs a variance).
    public var batchSize = 32
    /// The SGD learning rate before `learningRateDecayStep`.
    public var learningRate: Double = 0.1
    /// From this step on the learning rate is a tenth of `learningRate`.
    public var learningRateDecayStep = 100_000
    /// Evaluate the dev loss and save a checkpoint every this many steps.
    public var evaluationInterval = 10_000
    /// Seed of the initial values and of the batches (the lecture's `2147483647`).
    public var seed: UInt64 = 2_147_483_647
    /// How each step moves the parameters (the learning rate above, on its schedule, for both).
    public var optimizer: Optimizer = .sgd

    /// The lecture's MLP recipe: 200,000 steps of 32 examples, learning rate 0.1 then 0.01 from
    /// step 100,000, the dev loss every 10,000 steps.
    public init() {}

    /// The learning rate of step `step` (0-based): the lecture's `0.1 if i < 100000 else 0.01`.
    public func learningRate(atStep step: Int) -> Double {
        step < learningRateDecayStep ? learningRate : learningRate / 10
    }

    /// Throws a `MakemoreError` naming the option when a value is out of range: `steps < 0`,
    /// `batchSize < 2`, a learning rate that is not positive and finite, a negative decay step, or
    /// `evaluationInterval < 1`.
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
