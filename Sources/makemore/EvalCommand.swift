import ArgumentParser
import Foundation
import Makemore

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Print the train / val / test losses of a trained model (in evaluation mode)."
    )

    @OptionGroup(title: "Model") var source: CheckpointOptions
    @OptionGroup(title: "Data") var data: DataOptions
    @Flag(help: "Print the losses as one JSON object.")
    var json = false

    func run() throws {
        let checkpoint = try source.load()
        let words = try data.load(fallback: checkpoint.dataPath)
        let splits = try timedSplits { try Splits(words: words, blockSize: checkpoint.model.config.blockSize, vocabulary: checkpoint.vocabulary) }
        try type(of: checkpoint.model).checkWordsFit(splits, blockSize: checkpoint.model.config.blockSize)
        // Evaluation shares its rows between threads where the model can; the losses do not change.
        checkpoint.model.threads = Swift.min(2, ProcessInfo.processInfo.activeProcessorCount)
        let start = Date()
        let losses = SplitLosses(model: checkpoint.model, splits: splits) { name, count in
            if count > 2_000_000 { note("evaluating the \(name) split (\(count) examples)...") }
        }
        let seconds = Date().timeIntervalSince(start)
        if seconds > 1 { note(String(format: "evaluated %@ examples in %.1f s", splits.sizeSummary, seconds)) }
        for (name, loss) in [("train", losses.train), ("val", losses.dev), ("test", losses.test)] where !loss.isFinite {
            throw MakemoreError("the \(name) loss is \(loss): the model gives a non-finite probability on that split")
        }
        if json {
            print("{\"train\": \(losses.train), \"val\": \(losses.dev), \"test\": \(losses.test)}")
            return
        }
        printConfiguration("makemore eval", [
            ("model", "\(source.url.path): \(describe(checkpoint.model)), trained \(checkpoint.step) steps"),
            ("data", data.describe(words, fallback: checkpoint.dataPath)),
            ("split", describe(splits)),
        ])
        print(losses.table)
    }
}
