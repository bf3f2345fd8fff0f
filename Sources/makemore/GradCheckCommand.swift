import ArgumentParser
import Foundation
import Makemore

struct GradCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check every hand-written gradient of one batch against finite differences.",
        discussion: """
            Runs the step-by-step forward on one batch of the training split, the hand-written \
            backward through every intermediate, and the fused backward; prints one row per tensor \
            with the largest difference from central finite differences of the same forward in \
            Double, and the fused-vs-step-by-step rows. Exits 1 if any row fails.
            """
    )

    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @Option(parsing: .unconditional, help: "Examples in the batch (words for the transformer; at least 2 for batch-norm's variance; default 32, transformer 4).")
    var batch: Int?
    @Option(parsing: .unconditional, help: "Seed of the initial values and of the batch.")
    var seed: UInt64 = 2_147_483_647
    @Option(help: ArgumentHelp(
        "Also write the parameters, batch and every hand-written gradient (float32) to this safetensors file, for reference/torch_parity.py.",
        valueName: "file"))
    var export: String?
    @Option(help: ArgumentHelp(
        "Also run --steps training steps with --optimizer from the same initial values on batches of the training split and write them (initial values, batches, losses, gradients, final values, optimizer state) to this safetensors file, for reference/adamw_parity.py.",
        valueName: "file"))
    var exportSteps: String?
    @Option(parsing: .unconditional, help: "Training steps of --export-steps.")
    var steps = 10
    @Option(parsing: .unconditional, help: "Learning rate of --export-steps (default 0.1; 5e-4 with --optimizer adamw).")
    var lr: Double?
    @OptionGroup(title: "Optimization (--export-steps)") var optimizer: OptimizerOptions
    @Flag(help: "With --export or --export-steps: write the files and skip the finite differences (slow for the larger models at their full size).")
    var exportOnly = false

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1, got \(batch)") }
        if exportOnly && export == nil && exportSteps == nil { throw ValidationError("--export-only needs --export FILE or --export-steps FILE") }
        if steps < 1 { throw ValidationError("--steps must be at least 1, got \(steps)") }
        do {
            try trainingOptions().validate()
        } catch let error as MakemoreError {
            throw ValidationError(error.message)
        }
    }

    /// The optimizer and learning rate of --export-steps (the batch size is the model's to check).
    func trainingOptions() throws -> TrainingOptions {
        var options = try optimizer.applying(to: TrainingOptions(), learningRateGiven: lr != nil)
        if let lr { options.learningRate = lr }
        return options
    }

    func run() throws {
        try run(try model.type)
    }

    private func run<Model: LanguageModel>(_ type: Model.Type) throws {
        let words = try data.load()
        let splits = try timedSplits { try Splits(words: words, blockSize: try model.blockSize(defaults: .checking, words: words)) }
        let config = try Model.configuration(vocabularySize: splits.vocabulary.count, sizes: model.sizes(words: words), defaults: .checking)
        try Model.checkWordsFit(splits, blockSize: config.blockSize)
        // The check holds the model in float32 and in Double, every intermediate of the step-by-step
        // pass, and copies (transposes, perturbed tensors): about eight times what training holds.
        let batchSize = batch ?? Model.gradientCheckBatchSize
        try config.checkMemory(batchSize: batchSize, factor: 8)
        printConfiguration("makemore gradcheck", [
            ("data", data.describe(words)),
            ("split", describe(splits)),
            ("model", describe(type, config)),
            ("batch", "\(batchSize) examples from the training split, seed \(seed)"),
        ])

        // The values a training run would start from (float32), checked in Double.
        var generator = SeededGenerator(seed: seed)
        let parameters = Model.initialParameters(config, generator: &generator)
        let batch = Model.TrainingBatch(drawingFrom: splits.train, count: batchSize, using: &generator)
        let pass = try Model.gradientPass(config: config, parameters: parameters.converted(to: Double.self), batch: batch)
        if let export {
            try GradientExport.make(
                type, config: config, parameters: parameters, batch: batch, vocabulary: splits.vocabulary, seed: seed
            ).write(to: URL(fileURLWithPath: export))
            print("wrote \(export): parameters, batch, \(pass.gradientOrder.count) float32 gradients and the model's own")
        }
        if let exportSteps {
            // The batches of the steps come after the gradient check's, from the same generator.
            let batches = (0..<steps).map { _ in Model.TrainingBatch(drawingFrom: splits.train, count: batchSize, using: &generator) }
            let options = try trainingOptions()
            try TrainingStepsExport.make(
                type, config: config, parameters: parameters, batches: batches, optimizer: options.optimizer,
                learningRate: options.learningRate, vocabulary: splits.vocabulary, seed: seed
            ).write(to: URL(fileURLWithPath: exportSteps))
            print("wrote \(exportSteps): \(steps) steps of \(options.optimizer.summary) at lr \(options.learningRate) from the same initial values")
        }
        if exportOnly { return }
        let check = GradientCheck()
        print("loss \(pass.loss)")
        print("reference: five-point central differences of the same forward in Double, step from \(check.step) * max(|x|, 0.01), halved until two estimates agree to \(check.agreement)")
        print("a row passes when maxdiff <= \(check.relativeTolerance) * max(1, max|reference|)")
        print()
        // Each row is printed as soon as it is checked: a large model takes a while.
        let nameWidth = max(16, pass.gradientOrder.map(\.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        print("\(pad("tensor", nameWidth))  \(pad("shape", 12))  \(pad("maxdiff", 9))  \(pad("max|ref|", 9))  result")
        var section = GradientCheckRow.Reference.finiteDifferences
        let start = Date()
        let rows = check.run(pass) { row in
            if row.reference != section {
                section = row.reference
                print("-- \(section.rawValue)")
            }
            let shape = "[" + row.shape.map(String.init).joined(separator: ", ") + "]"
            print(
                "\(pad(row.name, nameWidth))  \(pad(shape, 12))  \(pad(scientific(row.maxDifference), 9))  "
                    + "\(pad(scientific(row.scale), 9))  \(row.passed ? "ok" : "FAIL")")
            fflush(nil)
        }
        let seconds = Date().timeIntervalSince(start)
        let failed = rows.filter { !$0.passed }
        let worst = rows.max { $0.maxDifference / $0.tolerance < $1.maxDifference / $1.tolerance }!
        print()
        print(
            "\(rows.count) rows in \(String(format: "%.1f", seconds)) s; closest to its tolerance: \(worst.name) "
                + "(maxdiff \(scientific(worst.maxDifference)) of \(scientific(worst.tolerance)))")
        if failed.isEmpty {
            print("gradcheck: all \(rows.count) rows passed")
        } else {
            print("gradcheck: \(failed.count) of \(rows.count) rows FAILED: \(failed.map(\.name).joined(separator: ", "))")
            throw ExitCode(1)
        }
    }
}

func scientific(_ x: Double) -> String { String(format: "%.2e", x) }
