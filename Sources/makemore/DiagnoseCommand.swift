import ArgumentParser
import Foundation
import Makemore

struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Write report.html of a trained model: activations, gradients and ratios on a few training batches.",
        discussion: """
            What can be computed from a checkpoint: each batch runs one plain forward and backward \
            (the model is not changed). The update:data ratio is that of the step the checkpoint's \
            optimizer would make, from its state, at the learning rate of its last step (lr · grad \
            for SGD), on a copy. The loss curves come from the run directory's log.csv. For the \
            ratios along training, train with --diagnostics. Replaces DIR/report.html.
            """
    )

    @OptionGroup(title: "Model") var source: CheckpointOptions
    @OptionGroup(title: "Data") var data: DataOptions
    @Option(parsing: .unconditional, help: "Training batches to look at (of the checkpoint's batch size).")
    var batches = 4
    @Option(parsing: .unconditional, help: "Seed of the batches.")
    var seed: UInt64 = 42

    func validate() throws {
        if batches < 1 { throw ValidationError("--batches must be at least 1, got \(batches)") }
    }

    func run() throws {
        let checkpoint = try source.load()
        let words = try data.load(fallback: checkpoint.dataPath)
        let model = checkpoint.model
        let splits = try timedSplits { try Splits(words: words, blockSize: model.config.blockSize, vocabulary: checkpoint.vocabulary) }
        try type(of: model).checkWordsFit(splits, blockSize: model.config.blockSize)
        let directory = try RunDirectory(path: source.out)
        let log = try directory.readLog().truncated(toStep: checkpoint.step)
        let learningRate = checkpoint.options.learningRate(atStep: Swift.max(0, checkpoint.step - 1))
        printConfiguration("makemore diagnose", [
            ("model", "\(source.url.path): \(describe(model)), trained \(checkpoint.step) steps"),
            ("data", data.describe(words, fallback: checkpoint.dataPath)),
            ("batches", "\(batches) of \(checkpoint.options.batchSize) from the training split, seed \(seed)"),
            ("lr", "\(learningRate) (the checkpoint's last step): the update:data ratio of one \(checkpoint.options.optimizer.name) step"),
            ("out", directory.url.appendingPathComponent(DiagnosticsFiles.reportFile).path),
        ])
        var generator = SeededGenerator(seed: seed)
        var batch = model.makeBatch(count: checkpoint.options.batchSize)
        let snapshots = (0..<batches).map { _ in
            batch.refill(from: splits.train, using: &generator)
            return Diagnostics.inspect(
                model: model, batch: batch, step: checkpoint.step, optimizer: checkpoint.options.optimizer,
                state: checkpoint.optimizerState, learningRate: learningRate)
        }
        let header = [
            ("model", describe(model)),
            ("checkpoint", "\(source.url.path), \(checkpoint.step) steps\(checkpoint.finished ? ", finished" : "")"),
            ("configuration", "\(checkpoint.options.steps) steps, batch \(checkpoint.options.batchSize); \(checkpoint.options.optimizer.summary); lr \(checkpoint.options.learningRateSummary)"),
            ("data", data.describe(words, fallback: checkpoint.dataPath)),
            ("split", describe(splits)),
            ("diagnosed", "\(batches) training batches of the checkpoint (seed \(seed)); update ratios: one \(checkpoint.options.optimizer.name) step at lr \(learningRate), on a copy"),
        ] + (log.devLosses.last.map { [("last dev loss", String(format: "%.4f at step %d", $0.loss, $0.step))] } ?? [])
        let report = DiagnosticsReport(title: "makemore \(model.name): diagnostics of a checkpoint", header: header, log: log, snapshots: snapshots)
        try directory.writeText(report.html(), to: directory.url.appendingPathComponent(DiagnosticsFiles.reportFile))
        for line in Diagnostics.warnings(snapshots) { print("warning: " + line) }
        print("wrote \(directory.url.appendingPathComponent(DiagnosticsFiles.reportFile).path)")
    }
}
