import ArgumentParser
import Foundation
import Makemore

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time training steps (forward, backward, update) on random batches of the real data.",
        discussion: """
            GFLOP/s counts 2·m·k·n for the three matrix products of every Linear layer \
            (x @ W, dout @ Wᵀ, xᵀ @ dout), m the rows of its input; element-wise work is not counted.
            """
    )

    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @Option(parsing: .unconditional, help: "Examples per step.")
    var batch = 32
    @Option(parsing: .unconditional, help: "Timed steps.")
    var steps = 20_000
    @Option(parsing: .unconditional, help: "Untimed steps before timing.")
    var warmup = 1_000
    @Option(parsing: .unconditional, help: "Threads that share each step (at most 2 are used).")
    var threads = 1
    @OptionGroup(title: "Optimization") var optimizer: OptimizerOptions
    @Flag(help: "Print one JSON object on one line.")
    var json = false

    func validate() throws {
        var options = TrainingOptions()
        options.batchSize = batch
        do {
            try options.validate()  // the library's message for a bad --batch
        } catch let error as MakemoreError {
            throw ValidationError(error.message)
        }
        if steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
        if warmup < 0 { throw ValidationError("--warmup must be 0 or more, got \(warmup)") }
        if threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        do {
            try optimizer.applying(to: TrainingOptions(), learningRateGiven: false).validate()
        } catch let error as MakemoreError {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        let words = try data.load()
        let splits = try timedSplits { try Splits(words: words, blockSize: try model.blockSize(defaults: .checking)) }
        let type = try model.type
        var benchmark = Benchmark(
            model: type, sizes: model.sizes(), batchSize: batch, steps: steps, warmupSteps: warmup, threads: threads)
        let options = try optimizer.applying(to: TrainingOptions(), learningRateGiven: false)
        (benchmark.optimizer, benchmark.learningRate) = (options.optimizer, options.learningRate)
        let config = try benchmark.configuration(vocabularySize: splits.vocabulary.count)
        if !json {
            printConfiguration("makemore bench", [
                ("data", data.describe(words)),
                ("split", describe(splits)),
                ("model", describe(type, config)),
                ("steps", "\(steps) timed after \(warmup) warm-up, batch \(batch), \(threads) thread(s) asked"),
                ("optimizer", "\(options.optimizer.summary), lr \(options.learningRate)"),
            ])
        }
        let result = try benchmark.run(on: splits)
        let threads = result.threads
        if json {
            let fields: [(String, String)] = [
                ("implementation", "\"makemore\""), ("model", "\"\(type.name)\""),
                ("embed", config.sizes.embed.map(String.init) ?? "null"), ("hidden", config.sizes.hidden.map(String.init) ?? "null"),
                ("block", "\(config.blockSize)"), ("layers", config.sizes.layers.map(String.init) ?? "null"), ("batch", "\(batch)"),
                ("threads", "\(threads)"), ("steps", "\(steps)"), ("seconds", "\(result.seconds)"),
                ("steps_per_s", "\(result.stepsPerSecond)"), ("ms_per_step", "\(result.millisecondsPerStep)"),
                ("gflops", "\(result.gigaflopsPerSecond)"), ("peak_rss_mb", "\(Double(result.peakResidentBytes) / 1e6)"),
                ("final_loss", "\(result.finalLoss)"),
            ]
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
            return
        }
        print("threads       \(threads)")
        print(String(format: "steps/s       %.0f", result.stepsPerSecond))
        print(String(format: "examples/s    %.0f", result.stepsPerSecond * Double(batch)))
        print(String(format: "ms/step       %.4f", result.millisecondsPerStep))
        print(String(format: "GFLOP/s       %.1f  (matrix products, %.2f MFLOP a step)", result.gigaflopsPerSecond, result.flopsPerStep / 1e6))
        print(String(format: "peak RSS      %.1f MB", Double(result.peakResidentBytes) / 1e6))
        print(String(format: "final loss    %.4f", result.finalLoss))
    }
}
