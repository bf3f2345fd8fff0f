import ArgumentParser
import Foundation
import Makemore

/// Where the words come from.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: ArgumentHelp("A UTF-8 text file, one word per line (default: the bundled names).", valueName: "file"))
    var path: String?

    /// The words of `--data`, else of `fallback` (a checkpoint's data file), else the bundled names.
    func load(fallback: String? = nil) throws -> WordList {
        guard let path = path ?? fallback else { return try WordList.bundledNames() }
        return try WordList(contentsOf: URL(fileURLWithPath: path))
    }

    func describe(_ words: WordList, fallback: String? = nil) -> String {
        "\(path ?? fallback ?? "bundled names.txt") (\(words.words.count) words)"
    }
}

/// The shape of the model. Unset options take the command's defaults (the lecture's for
/// `train`, the seed notebook's for `gradcheck` and `bench`) or, on `--resume`, the checkpoint's.
struct ModelOptions: ParsableArguments {
    @Option(help: "Width of a character's embedding (default 10).")
    var embed: Int?
    @Option(help: "Width of each hidden layer (default 200 for train, 64 for gradcheck and bench).")
    var hidden: Int?
    @Option(help: "Number of previous characters the model sees (default 3).")
    var block: Int?
    @Option(help: "Number of Linear -> BatchNorm1d -> Tanh blocks (default 1).")
    var layers: Int?

    func config(vocabularySize: Int, defaultHidden: Int, momentum: Double = 0.001) throws -> ModelConfig {
        let config = ModelConfig(
            vocabularySize: vocabularySize, embeddingSize: embed ?? 10, hiddenSize: hidden ?? defaultHidden,
            blockSize: blockSize, hiddenLayers: layers ?? 1, momentum: momentum)
        try config.validate()
        return config
    }

    var blockSize: Int { block ?? 3 }

    /// Throws if an option was given that disagrees with `config` (a checkpoint's).
    func checkAgrees(with config: ModelConfig) throws {
        let given: [(String, Int?, Int)] = [
            ("--embed", embed, config.embeddingSize), ("--hidden", hidden, config.hiddenSize),
            ("--block", block, config.blockSize), ("--layers", layers, config.hiddenLayers),
        ]
        for (name, value, actual) in given {
            if let value, value != actual {
                throw ValidationError("\(name) \(value) disagrees with the checkpoint's \(actual); leave it out to keep the checkpoint's")
            }
        }
    }

    /// The library's size checks (one set of messages) on the sizes given, before any data is
    /// read; the vocabulary is not known yet, so it stands in with a valid size.
    func validate() throws {
        try ModelOptions.check(ModelConfig(
            vocabularySize: 2, embeddingSize: embed ?? 1, hiddenSize: hidden ?? 1, blockSize: block ?? 1,
            hiddenLayers: layers ?? 1))
    }

    /// `config.validate()`, its error as a usage error.
    static func check(_ config: ModelConfig) throws {
        do {
            try config.validate()
        } catch let error as MakemoreError {
            throw ValidationError(error.message)
        }
    }
}

/// Where a trained model is read from.
struct CheckpointOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Run directory written by train; its model.safetensors is used.", valueName: "dir"))
    var out = "out"
    @Option(help: ArgumentHelp("A model.safetensors file to use instead of the run directory's.", valueName: "file"))
    var checkpoint: String?

    var url: URL {
        checkpoint.map { URL(fileURLWithPath: $0) } ?? RunDirectory.model(in: out)
    }

    func load() throws -> Checkpoint {
        if !FileManager.default.fileExists(atPath: url.path) {
            throw MakemoreError("no model at \(url.path); train one with 'makemore train --out \(out)', or give --checkpoint FILE")
        }
        return try Checkpoint(contentsOf: url)
    }
}

/// Prints the resolved configuration, one `key  value` line each, as every command does first.
func printConfiguration(_ title: String, _ lines: [(String, String)]) {
    print(title)
    let width = lines.map(\.0.count).max() ?? 0
    for (key, value) in lines {
        print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)")
    }
    print()
}

func describe(_ config: ModelConfig) -> String {
    "embed \(config.embeddingSize), hidden \(config.hiddenSize), block \(config.blockSize), "
        + "layers \(config.hiddenLayers): \(config.parameterCount) parameters"
}

func describe(_ splits: Splits) -> String {
    "\(splits.sizeSummary) examples (train / dev / test), \(splits.vocabulary.count) characters"
}
