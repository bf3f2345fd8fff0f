import ArgumentParser
import Foundation
import Makemore

/// Where the words come from.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: ArgumentHelp("A UTF-8 text file, one word per line (default: the bundled names).", valueName: "file"))
    var path: String?

    func load() throws -> WordList {
        guard let path else { return try WordList.bundledNames() }
        return try WordList(contentsOf: URL(fileURLWithPath: path))
    }

    func describe(_ words: WordList) -> String {
        "\(path ?? "bundled names.txt") (\(words.words.count) words)"
    }
}

/// The shape of the model.
struct ModelOptions: ParsableArguments {
    @Option(help: "Width of a character's embedding.")
    var embed = 10
    @Option(help: "Width of each hidden layer.")
    var hidden = 64
    @Option(help: "Number of previous characters the model sees.")
    var block = 3
    @Option(help: "Number of Linear -> BatchNorm1d -> Tanh blocks.")
    var layers = 1

    func config(vocabularySize: Int, momentum: Double = 0.001) throws -> ModelConfig {
        let config = ModelConfig(
            vocabularySize: vocabularySize, embeddingSize: embed, hiddenSize: hidden, blockSize: block,
            hiddenLayers: layers, momentum: momentum)
        try config.validate()
        return config
    }

    func validate() throws {
        for (name, value) in [("--embed", embed), ("--hidden", hidden), ("--block", block), ("--layers", layers)]
        where value < 1 {
            throw ValidationError("\(name) must be at least 1, got \(value)")
        }
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
