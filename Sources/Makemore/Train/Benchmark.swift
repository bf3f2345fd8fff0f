import Foundation

/// Times training steps: the model's `trainingStep` on random batches of the training split,
/// exactly what `Trainer` runs, after untimed warm-up steps.
package struct Benchmark {
    package var model: any LanguageModel.Type
    package var sizes: ModelSizes
    package var batchSize: Int
    package var steps: Int
    package var warmupSteps: Int
    package var threads: Int
    package var seed: UInt64 = 2_147_483_647
    /// The optimizer of the steps, with its learning rate: SGD at the lecture's 0.1 by default.
    package var optimizer: Optimizer = .sgd
    package var learningRate = 0.1

    package init(model: any LanguageModel.Type, sizes: ModelSizes, batchSize: Int, steps: Int, warmupSteps: Int, threads: Int) {
        self.model = model
        self.sizes = sizes
        self.batchSize = batchSize
        self.steps = steps
        self.warmupSteps = warmupSteps
        self.threads = threads
    }

    package struct Result: Sendable {
        package let seconds: Double
        package let steps: Int
        package let finalLoss: Float
        /// Floating-point operations of the matrix products of one step (see `LanguageModel.matmulFlops`).
        package let flopsPerStep: Double
        package let peakResidentBytes: Int
        /// Threads the steps actually used.
        package let threads: Int

        package var stepsPerSecond: Double { Double(steps) / seconds }
        package var millisecondsPerStep: Double { seconds * 1000 / Double(steps) }
        package var gigaflopsPerSecond: Double { flopsPerStep * stepsPerSecond / 1e9 }
    }

    /// The model's sizes with the checks' defaults (`ModelDefaults.checking`) filling in the rest.
    package func configuration(vocabularySize: Int) throws -> any ModelConfiguration {
        try model.configuration(vocabularySize: vocabularySize, sizes: sizes, defaults: .checking)
    }

    package func run(on splits: Splits) throws -> Result {
        var options = TrainingOptions()
        options.steps = warmupSteps + steps
        options.batchSize = batchSize
        options.learningRateDecayStep = Int.max
        options.seed = seed
        options.optimizer = optimizer
        options.learningRate = learningRate
        let trainer = try Trainer(model: model, sizes: sizes, defaults: .checking, options: options, splits: splits, dataPath: nil)
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
            flopsPerStep: trainer.model.matmulFlops(batchSize: batchSize),
            peakResidentBytes: Benchmark.peakResidentBytes(), threads: trainer.model.parallelism)
    }

    /// The largest resident set of this process so far: `VmHWM` of /proc/self/status on Linux
    /// (`ru_maxrss` there keeps a parent's peak across fork and exec), `ru_maxrss` elsewhere.
    static func peakResidentBytes() -> Int {
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
