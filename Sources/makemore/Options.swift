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
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let large = size > 10_000_000
        if large { note(String(format: "reading %@ (%.0f MB)...", path, Double(size) / 1e6)) }
        let start = Date()
        let words = try WordList(contentsOf: URL(fileURLWithPath: path))
        if large { note(String(format: "read %d words in %.1f s", words.words.count, Date().timeIntervalSince(start))) }
        return words
    }

    func describe(_ words: WordList, fallback: String? = nil) -> String {
        "\(path ?? fallback ?? "bundled names.txt") (\(words.words.count) words)"
    }
}

/// Which model, and its shape. Unset sizes take the model's defaults (the recipe's for `train`,
/// smaller ones for `gradcheck` and `bench` where the model has them) or, on `--resume`, the
/// checkpoint's.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The model: \(Models.names.joined(separator: ", ")) (default \(MLP<Float>.name); on --resume, the checkpoint's).",
        discussion: Models.all.map { "\($0.name): \($0.summary)" }.joined(separator: "\n"),
        valueName: "name"))
    var model: String?
    @Option(parsing: .unconditional, help: "Width of a character's embedding (default: mlp 10, wavenet 24, transformer 64, bow 64 (16 for gradcheck), rnn and gru 64 (16 for gradcheck and bench); bigram has none).")
    var embed: Int?
    @Option(parsing: .unconditional, help: "Width of each hidden layer (default: mlp 200 for train, 64 for gradcheck and bench; wavenet 128; bow's MLP 64, 16 for gradcheck), or of the rnn's and gru's state (n_embd2; 64, 12 for gradcheck and bench).")
    var hidden: Int?
    @Option(parsing: .unconditional, help: "Number of previous characters the model sees (default: mlp 3; wavenet 8, a power of two; transformer, bigram, bow, rnn, gru: 16, the longest name + 1; longer words are refused).")
    var block: Int?
    @Option(parsing: .unconditional, help: "Number of Linear -> BatchNorm1d -> Tanh layers (mlp; default 1), or of blocks (transformer; default 4).")
    var layers: Int?
    @Option(parsing: .unconditional, help: "Attention heads of each block (transformer only; default 4; a divisor of --embed).")
    var heads: Int?

    /// The model named by `--model`.
    var type: any LanguageModel.Type {
        get throws { try Models.named(model ?? MLP<Float>.name) }
    }

    /// The sizes given; `momentum` and `calibrate` come from the optimization options. With
    /// `words`, a model that reads whole words takes the longest word + 1 as its block unless given.
    func sizes(momentum: Double? = nil, calibrate: Bool? = nil, words: WordList? = nil) -> ModelSizes {
        var block = block
        if block == nil, let words, (try? type)?.readsWholeWords == true { block = words.longestWord + 1 }
        return ModelSizes(embed: embed, hidden: hidden, block: block, layers: layers, momentum: momentum, calibrate: calibrate, heads: heads)
    }

    /// The configuration of the sizes given, the model's `defaults` for the rest.
    func config(vocabularySize: Int, defaults: ModelDefaults, momentum: Double? = nil, words: WordList? = nil) throws -> any ModelConfiguration {
        try type.configuration(vocabularySize: vocabularySize, sizes: sizes(momentum: momentum, words: words), defaults: defaults)
    }

    /// The context length, needed to build the data set before the model exists: for a model
    /// that reads whole words, the longest of `words` + 1 unless given.
    func blockSize(defaults: ModelDefaults, words: WordList? = nil) throws -> Int {
        try config(vocabularySize: 2, defaults: defaults, words: words).blockSize
    }

    /// The model's checks of the sizes given (one set of messages), before any data is read; the
    /// vocabulary is not known yet, so it stands in with a valid size.
    func validate() throws {
        do {
            _ = try config(vocabularySize: 2, defaults: .training)
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
    @Flag(help: "Use the run directory's best.safetensors (the checkpoint of the lowest dev loss) instead of its last.")
    var best = false

    func validate() throws {
        if best && checkpoint != nil { throw ValidationError("--best and --checkpoint exclude each other") }
    }

    var url: URL {
        checkpoint.map { URL(fileURLWithPath: $0) } ?? (best ? RunDirectory.best(in: out) : RunDirectory.model(in: out))
    }

    func load() throws -> Checkpoint {
        if !FileManager.default.fileExists(atPath: url.path) {
            throw MakemoreError("no model at \(url.path); train one with 'makemore train --out \(out)', or give --checkpoint FILE")
        }
        return try readCheckpoint(url)
    }
}

/// The checkpoint at `url`, its notes (a missing checksum) printed on standard error.
func readCheckpoint(_ url: URL) throws -> Checkpoint {
    let checkpoint = try Checkpoint(contentsOf: url)
    for line in checkpoint.notes { note("note: \(url.path): \(line)") }
    return checkpoint
}

/// A line of progress on standard error, so that standard output stays the command's own.
func note(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Builds the splits of `words`, saying how long it took when that is long enough to notice.
func timedSplits(_ build: () throws -> Splits) rethrows -> Splits {
    let start = Date()
    let splits = try build()
    let seconds = Date().timeIntervalSince(start)
    if seconds > 1 { note(String(format: "built the splits (%@ examples) in %.1f s", splits.sizeSummary, seconds)) }
    return splits
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

/// `mlp: embed 10, hidden 200, ...: 12297 parameters`.
func describe(_ model: any LanguageModel) -> String {
    "\(model.name): \(model.config.summary)"
}

func describe(_ type: any LanguageModel.Type, _ config: any ModelConfiguration) -> String {
    "\(type.name): \(config.summary)"
}

func describe(_ splits: Splits) -> String {
    "\(splits.sizeSummary) examples (train / dev / test), \(splits.vocabulary.count) characters"
}

/// The optimizer and its hyper-parameters. Unset options take the model's recipe (SGD) or, on
/// --resume, the checkpoint's.
struct OptimizerOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "sgd (the lecture's) or adamw (makemore's: torch.optim.AdamW, decoupled weight decay) (default: mlp and wavenet sgd; transformer, bigram, bow, rnn, gru adamw).",
        valueName: "name"))
    var optimizer: OptimizerName?
    @Option(parsing: .unconditional, help: "AdamW's decoupled weight decay (default 0.01, makemore's; transformer 0.1).")
    var weightDecay: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("AdamW's beta1,beta2 (default 0.9,0.99).", valueName: "b1,b2"))
    var betas: Betas?
    @Option(parsing: .unconditional, help: "AdamW's epsilon (default 1e-08).")
    var adamEps: Double?

    enum OptimizerName: String, ExpressibleByArgument, CaseIterable {
        case sgd
        case adamw
    }

    struct Betas: ExpressibleByArgument {
        var first: Double
        var second: Double

        init?(argument: String) {
            let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let first = parts[0], let second = parts[1] else { return nil }
            (self.first, self.second) = (first, second)
        }
    }

    /// `base` (the recipe's or the checkpoint's) with the options given; the learning rate
    /// becomes AdamW's default (5e-4, makemore's) when AdamW replaces SGD and `learningRateGiven` is false.
    func applying(to base: TrainingOptions, learningRateGiven: Bool) throws -> TrainingOptions {
        var options = base
        var adamW: AdamW?
        if case .adamW(let settings) = base.optimizer { adamW = settings }
        switch optimizer {
        case nil: break
        case .sgd: adamW = nil
        case .adamw:
            if adamW == nil {
                adamW = AdamW()
                if !learningRateGiven { options.learningRate = AdamW.defaultLearningRate }
            }
        }
        if weightDecay != nil || betas != nil || adamEps != nil {
            guard adamW != nil else {
                throw ValidationError("--weight-decay, --betas and --adam-eps are AdamW's; add --optimizer adamw")
            }
            if let weightDecay { adamW!.weightDecay = weightDecay }
            if let betas { (adamW!.beta1, adamW!.beta2) = (betas.first, betas.second) }
            if let adamEps { adamW!.epsilon = adamEps }
        }
        options.optimizer = adamW.map { .adamW($0) } ?? .sgd
        return options
    }
}
