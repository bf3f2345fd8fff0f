/// What a model trains on, one minibatch at a time: context windows (`Batch`, the MLP and the
/// WaveNet) or whole words (`WordBatch`, the Transformer). A model names its kind as
/// `LanguageModel.TrainingBatch`; the trainer and the checks make and refill batches through this.
public protocol Minibatch: Sendable {
    /// A batch of `count` placeholder examples for `blockSize`, to be refilled.
    init(count: Int, blockSize: Int)
    /// A batch of `count` examples drawn from `dataset`.
    init(drawingFrom dataset: Dataset, count: Int, using generator: inout SeededGenerator)
    /// Draws a new batch of the same size into the same storage.
    mutating func refill(from dataset: Dataset, using generator: inout SeededGenerator)
    /// Examples drawn (context windows, or words).
    var count: Int { get }
    /// The batch as PyTorch would hold it, for exports: `(name, values, shape)`.
    var exportedTensors: [(name: String, values: [Int64], shape: [Int])] { get }
}

extension Batch: Minibatch {
    /// `Xb (count, blockSize)` contexts and `Yb [count]` targets.
    public var exportedTensors: [(name: String, values: [Int64], shape: [Int])] {
        [("Xb", contexts.map(Int64.init), [count, count == 0 ? 0 : contexts.count / count]),
         ("Yb", targets.map(Int64.init), [count])]
    }
}

/// A minibatch of whole words, as makemore's Transformer reads them: word `c1 ... cn` is the input
/// `0, c1, ..., cn` with the targets `c1, ..., cn, 0`, one prediction per position (n + 1 of them).
///
/// The positions of all words are packed one after the other, without padding: word `w` is rows
/// `starts[w] ..< starts[w + 1]` of `inputs` and `targets` (and of every activation of the model),
/// its position `t` is row `starts[w] + t`. Positions after a word's end are not stored: causal
/// attention never lets an earlier position see them, so leaving them out changes nothing.
public struct WordBatch: Minibatch, Equatable {
    /// The most positions a word may have (the longest word + 1 in makemore).
    public let blockSize: Int
    /// `[count + 1]`: where each word's positions start; the last is `rows`.
    public private(set) var starts: [Int] = [0]
    /// `[rows]`: the character each position reads (`0` then the word's characters).
    public private(set) var inputs: [Int32] = []
    /// `[rows]`: the character each position predicts (the word's characters then `0`).
    public private(set) var targets: [Int32] = []

    /// Words in the batch.
    public var count: Int { starts.count - 1 }
    /// Positions of all words together: the rows of the model's activations.
    public var rows: Int { inputs.count }
    /// Word `w`'s rows.
    public func positions(ofWord w: Int) -> Range<Int> { starts[w]..<starts[w + 1] }

    /// The batch of `words` (character indices without the terminator), each shorter than `blockSize`.
    public init(words: [[Int32]], blockSize: Int) {
        self.blockSize = blockSize
        for word in words { append(word) }
    }

    /// One sequence read as it is, `inputs` (at most `blockSize` characters, no start token added),
    /// its targets `0`: for sampling, where makemore feeds the last `blockSize` tokens of a word
    /// that has outgrown the block.
    init(sequence inputs: [Int32], blockSize: Int) {
        precondition(inputs.count <= blockSize && !inputs.isEmpty)
        self.blockSize = blockSize
        self.inputs = inputs
        targets = Array(repeating: 0, count: inputs.count)
        starts = [0, inputs.count]
    }

    /// `count` empty words (one position each: `0` predicting `0`).
    public init(count: Int, blockSize: Int) {
        self.init(words: Array(repeating: [], count: count), blockSize: blockSize)
        inputs.reserveCapacity(count * blockSize)  // room for any words: a refill never grows them
        targets.reserveCapacity(count * blockSize)
    }

    /// The words `range` of `dataset`, in order.
    public init(words range: Range<Int>, of dataset: Dataset) {
        self.init(words: [], blockSize: dataset.blockSize)
        for w in range { append(dataset.word(w)) }
    }

    /// `count` words drawn uniformly, with replacement, from `dataset` (makemore's random sampler).
    public init(drawingFrom dataset: Dataset, count: Int, using generator: inout SeededGenerator) {
        self.init(count: count, blockSize: dataset.blockSize)
        refill(from: dataset, using: &generator)
    }

    public mutating func refill(from dataset: Dataset, using generator: inout SeededGenerator) {
        let count = self.count
        starts.removeAll(keepingCapacity: true)
        starts.append(0)
        inputs.removeAll(keepingCapacity: true)
        targets.removeAll(keepingCapacity: true)
        for _ in 0..<count {
            let w = generator.nextIndex(below: dataset.wordCount)
            append(dataset.characters[dataset.wordStarts[w]..<dataset.wordStarts[w + 1] - 1])  // a slice: no allocation
        }
    }

    private mutating func append<Word: Collection<Int32>>(_ word: Word) {
        precondition(
            word.count < blockSize,
            "a word of \(word.count) characters needs a block size of at least \(word.count + 1), not \(blockSize)")
        inputs.append(0)
        inputs += word
        targets += word
        targets.append(0)
        starts.append(inputs.count)
    }

    /// makemore's padded form: `Xb (count, blockSize)` inputs padded with 0, `Yb (count, blockSize)`
    /// targets padded with -1 (`ignore_index=-1` in its cross-entropy).
    public var exportedTensors: [(name: String, values: [Int64], shape: [Int])] {
        var x = [Int64](repeating: 0, count: count * blockSize), y = [Int64](repeating: -1, count: count * blockSize)
        for w in 0..<count {
            for (t, row) in positions(ofWord: w).enumerated() {
                x[w * blockSize + t] = Int64(inputs[row])
                y[w * blockSize + t] = Int64(targets[row])
            }
        }
        return [("Xb", x, [count, blockSize]), ("Yb", y, [count, blockSize])]
    }
}

extension Dataset {
    /// Word `w`'s character indices, without its terminator.
    public func word(_ w: Int) -> [Int32] {
        Array(characters[wordStarts[w]..<wordStarts[w + 1] - 1])
    }

    /// Characters of the longest word.
    public var longestWord: Int {
        (0..<wordCount).map { wordStarts[$0 + 1] - wordStarts[$0] - 1 }.max() ?? 0
    }
}

extension WordList {
    /// Characters (Unicode scalars, as the vocabulary counts them) of the longest word: a model
    /// that reads whole words needs a block size of at least this plus one.
    public var longestWord: Int {
        words.lazy.map(\.unicodeScalars.count).max() ?? 0
    }
}

extension Splits {
    /// Throws a one-line message naming the first word too long, unless every word of the three
    /// splits has fewer than `blockSize` characters: what a model that reads whole words
    /// (`WordBatch`: the word's characters plus the start token) needs.
    public func checkWordsFit(blockSize: Int) throws {
        let longest = Swift.max(train.longestWord, dev.longestWord, test.longestWord)
        guard longest >= blockSize else { return }
        let word = shuffledWords.first { $0.unicodeScalars.count == longest } ?? ""
        throw MakemoreError(
            "the word '\(word)' has \(longest) characters, but --block \(blockSize) fits words of at most \(blockSize - 1) "
                + "(the start token takes a position); give --block \(longest + 1) or more, or leave --block out to take the longest word + 1")
    }
}

extension WordBatch {
    /// The batch that predicts the character after `word` (without the start token), as makemore's
    /// `generate` crops `idx`: the last `blockSize` tokens, so a word of `blockSize` characters or
    /// more is read without the start token. The prediction is at its last row.
    init(sampling word: [Int32], blockSize: Int) {
        self = word.count < blockSize
            ? WordBatch(words: [word], blockSize: blockSize) : WordBatch(sequence: Array(word.suffix(blockSize)), blockSize: blockSize)
    }
}

extension Dataset {
    /// The mean of `loss` per position over every word, `chunk` words at a time: `loss` gives the
    /// mean over one batch of words, weighted here by its positions.
    func meanLossOverWords(chunk: Int, _ loss: (WordBatch) -> Double) -> Double {
        guard wordCount > 0 else { return .nan }
        var total = 0.0
        for first in stride(from: 0, to: wordCount, by: chunk) {
            let batch = WordBatch(words: first..<Swift.min(first + chunk, wordCount), of: self)
            total += loss(batch) * Double(batch.rows)
        }
        return total / Double(count)
    }
}
