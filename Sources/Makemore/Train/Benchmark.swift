import Foundation

/// Times training steps: the fused forward and backward and the SGD update on random batches of
/// the training split, exactly what `Trainer` runs, after untimed warm-up steps.
public struct Benchmark: Sendable {
    public var config: ModelConfig
    public var batchSize: Int
    public var steps: Int
    public var warmupSteps: Int
    public var threads: Int
    public var seed: UInt64 = 2_147_483_647

    public init(config: ModelConfig, batchSize: Int, steps: Int, warmupSteps: Int, threads: Int) {
        self.config = config
        self.batchSize = batchSize
        self.steps = steps
        self.warmupSteps = warmupSteps
        self.threads = threads
    }

    public struct Result: Sendable {
        public let seconds: Double
        public let steps: Int
        public let finalLoss: Float
        /// Multiply-adds of the matrix products of one step, times two.
        public let flopsPerStep: Double
        public let peakResidentBytes: Int

        public var stepsPerSecond: Double { Double(steps) / seconds }
        public var millisecondsPerStep: Double { seconds * 1000 / Double(steps) }
        public var gigaflopsPerSecond: Double { flopsPerStep * stepsPerSecond / 1e9 }
    }

    /// `2·m·k·n` for each of the three products of every Linear layer (forward `x @ W`, `dx =
    /// dout @ Wᵀ`, `dW = xᵀ @ dout`), with `m` the batch size: the first layer's `dx` counts too,
    /// since `dC` needs it. Element-wise work (batch-norm, tanh, softmax, SGD) is not counted.
    public static func matmulFlops(_ config: ModelConfig, batchSize: Int) -> Double {
        var flops = 0.0
        for i in 1...config.hiddenLayers {
            flops += 3 * 2 * Double(batchSize * config.fanIn(ofLayer: i) * config.hiddenSize)
        }
        flops += 3 * 2 * Double(batchSize * config.hiddenSize * config.vocabularySize)
        return flops
    }

    public func run(on splits: Splits) throws -> Result {
        var options = TrainingOptions()
        options.steps = warmupSteps + steps
        options.batchSize = batchSize
        options.learningRateDecayStep = Int.max
        options.seed = seed
        let trainer = try Trainer(config: config, options: options, splits: splits, dataPath: nil)
        trainer.model.threads = threads
        trainer.evaluatesDevLoss = false
        var lastLoss: Float = .nan
        var taken = 0
        try trainer.train(shouldStop: { taken == warmupSteps }, observe: { if case .step(_, let loss) = $0 { taken += 1; lastLoss = loss } })
        let start = DispatchTime.now().uptimeNanoseconds
        try trainer.train(observe: { if case .step(_, let loss) = $0 { lastLoss = loss } })
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Result(
            seconds: seconds, steps: steps, finalLoss: lastLoss,
            flopsPerStep: Benchmark.matmulFlops(config, batchSize: batchSize),
            peakResidentBytes: Benchmark.peakResidentBytes())
    }

    /// The largest resident set of this process so far: `VmHWM` of /proc/self/status on Linux
    /// (`ru_maxrss` there keeps a parent's peak across fork and exec), `ru_maxrss` elsewhere.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
            if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
            {
                return kilobytes * 1024
            }
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            return usage.ru_maxrss * 1024  // kilobytes on Linux
        #else
            getrusage(RUSAGE_SELF, &usage)
            return usage.ru_maxrss  // bytes on Darwin
        #endif
    }
}
