import ArgumentParser
import Foundation
import Makemore

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Make more names with a trained model, each marked as in the training set, in dev/test, or new."
    )

    @OptionGroup(title: "Model") var source: CheckpointOptions
    @OptionGroup(title: "Data (to mark the samples)") var data: DataOptions
    @Option(parsing: .unconditional, help: "Number of names.")
    var count = 20
    @Option(parsing: .unconditional, help: "Seed of the draws.")
    var seed: UInt64 = 42
    @Option(parsing: .unconditional, help: "Divide the logits by this: below 1 is more conservative, above 1 more adventurous.")
    var temperature = 1.0
    @Option(parsing: .unconditional, help: "Draw only from the k most likely characters.")
    var topK: Int?
    @Option(help: "Start every name with this text.")
    var prefix = ""

    func validate() throws {
        if count < 1 { throw ValidationError("--count must be at least 1, got \(count)") }
        do {
            try Sampler.validate(temperature: temperature, topK: topK)
        } catch let error as MakemoreError {
            throw ValidationError(error.message)
        }
    }

    func run() throws {
        let checkpoint = try source.load()
        let words = try data.load(fallback: checkpoint.dataPath)
        let sampler = try Sampler(model: checkpoint.model, vocabulary: checkpoint.vocabulary, temperature: temperature, topK: topK)
        do {
            _ = try checkpoint.vocabulary.encode(prefix)
        } catch let error as MakemoreError {
            throw MakemoreError("--prefix: \(error.message)")
        }
        // The split only tells which words the model saw; the checkpoint's vocabulary need not cover the file.
        let parts = Splits.partition(words.words)
        let trainWords = Set(parts.train), heldOutWords = Set(parts.dev + parts.test)

        printConfiguration("makemore sample", [
            ("model", "\(source.url.path): \(describe(checkpoint.model)), trained \(checkpoint.step) steps"),
            ("data", data.describe(words, fallback: checkpoint.dataPath)),
            ("split", "\(parts.train.count) / \(parts.dev.count) / \(parts.test.count) words (train / dev / test)"),
            ("sampling", "\(count) names, seed \(seed), temperature \(temperature)"
                + (topK.map { ", top-k \($0)" } ?? "") + (prefix.isEmpty ? "" : ", prefix '\(prefix)'")),
        ])
        var generator = SeededGenerator(seed: seed)
        var counts = (train: 0, heldOut: 0, new: 0)
        // Each name is printed as soon as it is drawn: a large --count shows progress.
        for _ in 0..<count {
            let name = try sampler.sample(prefix: prefix, using: &generator)
            let mark: String
            if trainWords.contains(name) { mark = "in train"; counts.train += 1 }
            else if heldOutWords.contains(name) { mark = "in dev/test"; counts.heldOut += 1 }
            else { mark = "new"; counts.new += 1 }
            print("\(name.padding(toLength: max(12, name.count), withPad: " ", startingAt: 0))  \(mark)")
        }
        print()
        print("\(counts.train) in train, \(counts.heldOut) in dev/test, \(counts.new) new")
    }
}
