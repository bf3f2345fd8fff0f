import Foundation

/// Examples for next-character prediction: the lecture's `build_dataset`, kept compactly.
///
/// Each word plus the terminator `.` gives one example per character: the target is that
/// character, the context the `blockSize` characters before it in the word, `.`-padded at the
/// start. The data is stored as the character indices of all words, each followed by `0`, with
/// where each word starts; a context is built when it is read. So memory grows with the
/// characters, not with examples × context length, and a word-reading model finds its words here.
public struct Dataset: Sendable {
    /// Characters of context in each example.
    public let blockSize: Int
    /// Every word's character indices followed by the terminator 0, word after word: example
    /// `i`'s target is `characters[i]`.
    public let characters: [Int32]
    /// `wordStarts[w]` is where word `w` starts in `characters`; the last element is
    /// `characters.count`.
    public let wordStarts: [Int]
    /// Each example's position in its word (0 for its first character), capped at `blockSize`:
    /// a drawn example's context needs it, and reading it here costs one byte where finding the
    /// word by a binary search of `wordStarts` costs a cache miss and a mispredicted branch a
    /// level. Empty when `blockSize` is over 255 (the search serves those).
    let positions: [UInt8]

    /// Number of examples: one per character, terminators included.
    public var count: Int { characters.count }
    /// Number of words.
    public var wordCount: Int { wordStarts.count - 1 }

    /// The examples of `words` with contexts of `blockSize` characters; throws if a word has a
    /// character that `vocabulary` lacks.
    public init(words: [String], vocabulary: Vocabulary, blockSize: Int) throws {
        precondition(blockSize >= 1)
        var characters: [Int32] = []
        var wordStarts: [Int] = [0]
        characters.reserveCapacity(words.reduce(0) { $0 + $1.utf8.count + 1 })
        wordStarts.reserveCapacity(words.count + 1)
        for word in words {
            try vocabulary.append(word, to: &characters)
            characters.append(0)
            wordStarts.append(characters.count)
        }
        self.blockSize = blockSize
        self.characters = characters
        self.wordStarts = wordStarts
        positions = Dataset.positions(wordStarts: wordStarts, blockSize: blockSize)
    }

    /// `positions` for words starting at `wordStarts`.
    static func positions(wordStarts: [Int], blockSize: Int) -> [UInt8] {
        guard blockSize <= Int(UInt8.max) else { return [] }
        var positions = [UInt8](repeating: 0, count: wordStarts.last ?? 0)
        for (start, end) in zip(wordStarts, wordStarts.dropFirst()) {
            for i in start..<end { positions[i] = UInt8(Swift.min(i - start, blockSize)) }
        }
        return positions
    }

    /// The word that holds example `example` (a binary search of `wordStarts`).
    func word(of example: Int) -> Int {
        var low = 0, high = wordStarts.count - 1  // wordStarts[low] <= example < wordStarts[high]
        while high - low > 1 {
            let middle = (low + high) / 2
            if wordStarts[middle] <= example { low = middle } else { high = middle }
        }
        return low
    }

    /// Writes example `example`'s context (`blockSize` indices) to `context`; returns its target.
    /// `start` is where its word starts (`wordStarts[word(of: example)]`), if known.
    @inline(__always)
    func example(_ example: Int, context: UnsafeMutablePointer<Int32>, wordStart start: Int? = nil) -> Int32 {
        if start == nil, !positions.isEmpty {
            // Character j of the context is in the word when the example is at least
            // blockSize - j characters into it.
            let position = Int(positions[example])
            characters.withUnsafeBufferPointer { characters in
                for j in 0..<blockSize {
                    context[j] = position >= blockSize - j ? characters[example - blockSize + j] : 0
                }
            }
            return characters[example]
        }
        let start = start ?? wordStarts[word(of: example)]
        characters.withUnsafeBufferPointer { characters in
            for j in 0..<blockSize {
                let position = example - blockSize + j
                context[j] = position >= start ? characters[position] : 0
            }
        }
        return characters[example]
    }

    /// Every context, `(count, blockSize)`: memory grows with examples × context length, so this
    /// is for tests and small sets; training and evaluation read examples as they go.
    public var contexts: [Int32] {
        var result = [Int32](repeating: 0, count: count * blockSize)
        result.withUnsafeMutableBufferPointer { result in
            forEachChunk(of: 4096) { contexts, _, n, first in
                (result.baseAddress! + first * blockSize).update(from: contexts, count: n * blockSize)
            }
        }
        return result
    }

    /// Every target, `[count]`: `characters`.
    public var targets: [Int32] { characters }
}

extension Dataset {
    /// Calls `body` with each run of up to `chunk` consecutive examples: pointers to their
    /// contexts `(n, blockSize)` (built into one buffer, reused) and targets `[n]`, `n`, and the
    /// index of the first.
    func forEachChunk(of chunk: Int, _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, Int, Int) -> Void) {
        let contexts = UnsafeMutablePointer<Int32>.allocate(capacity: Swift.max(1, chunk * blockSize))
        defer { contexts.deallocate() }
        characters.withUnsafeBufferPointer { characters in
            var first = 0, word = 0
            while first < count {
                let n = Swift.min(chunk, count - first)
                for i in 0..<n {
                    while wordStarts[word + 1] <= first + i { word += 1 }
                    _ = example(first + i, context: contexts + i * blockSize, wordStart: wordStarts[word])
                }
                body(contexts, characters.baseAddress! + first, n, first)
                first += n
            }
        }
    }

    /// `forEachChunk` without the index of the first example.
    func forEachChunk(of chunk: Int, _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, Int) -> Void) {
        forEachChunk(of: chunk) { contexts, targets, n, _ in body(contexts, targets, n) }
    }

    /// The mean over every example of the losses that `losses` returns for each chunk of up to
    /// `chunk` examples (`[n]`, one per example): each chunk's mean in `T`, weighted by its size
    /// in Double. NaN for an empty data set.
    func meanLoss<T: Scalar>(
        chunk: Int, _ losses: (UnsafePointer<Int32>, UnsafePointer<Int32>, Int) -> Tensor<T>
    ) -> Double {
        guard count > 0 else { return .nan }
        var total = 0.0
        forEachChunk(of: chunk) { contexts, targets, n in
            let rowLosses = losses(contexts, targets, n)
            var chunkTotal: T = 0
            for i in 0..<n { chunkTotal += rowLosses[i] }
            total += Double(chunkTotal / T(n)) * Double(n)
        }
        return total / Double(count)
    }

    /// The context window after `word` (character indices, no start token): its last
    /// `context.count` characters, `.`-padded at the start, as `Dataset` builds its examples.
    static func window(after word: [Int32], into context: inout [Int32]) {
        let b = context.count
        for j in 0..<b {
            let i = word.count - b + j
            context[j] = i >= 0 ? word[i] : 0
        }
    }
}

/// The lecture's three splits: the words shuffled as Python's `random.seed(42);
/// random.shuffle(words)` does, then cut at `int(0.8 n)` and `int(0.9 n)`.
public struct Splits: Sendable {
    /// The characters of the examples: built from the words, or a checkpoint's.
    public let vocabulary: Vocabulary
    /// The words in shuffled order.
    public let shuffledWords: [String]
    /// The first 80% of the shuffled words: what training draws its batches from.
    public let train: Dataset
    /// The next 10%: the dev (validation, the lecture's `val`) split, evaluated during training.
    public let dev: Dataset
    /// The last 10%: the test split, evaluated once at the end.
    public let test: Dataset

    static let shuffleSeed: UInt64 = 42

    /// Splits `words` with a vocabulary built from them.
    public init(words: WordList, blockSize: Int) throws {
        try self.init(words: words, blockSize: blockSize, vocabulary: Vocabulary(words: words.words))
    }

    /// Splits `words` with a given vocabulary (a checkpoint's); a character it lacks is an error.
    public init(words: WordList, blockSize: Int, vocabulary: Vocabulary) throws {
        let parts = Splits.partition(words.words)
        do {
            self.train = try Dataset(words: parts.train, vocabulary: vocabulary, blockSize: blockSize)
            self.dev = try Dataset(words: parts.dev, vocabulary: vocabulary, blockSize: blockSize)
            self.test = try Dataset(words: parts.test, vocabulary: vocabulary, blockSize: blockSize)
        } catch let error as MakemoreError {
            throw MakemoreError("\(words.source): \(error.message)")
        }
        self.vocabulary = vocabulary
        self.shuffledWords = parts.train + parts.dev + parts.test
        for (name, part) in [("training", parts.train), ("dev", parts.dev), ("test", parts.test)] where part.isEmpty {
            throw MakemoreError(
                "\(words.source): \(words.words.count) words split 80/10/10 leave the \(name) split empty; "
                    + "give at least \(Splits.minimumWords) words")
        }
    }

    /// The fewest words whose 80/10/10 split leaves no split empty, for every count from here on.
    static let minimumWords = 10

    /// The words shuffled as Python's `random.seed(42); random.shuffle(words)` and cut at
    /// `int(0.8 n)` and `int(0.9 n)`.
    package static func partition(_ words: [String]) -> (train: [String], dev: [String], test: [String]) {
        var shuffled = words
        var random = PythonRandom(seed: shuffleSeed)
        random.shuffle(&shuffled)
        let n1 = Int(0.8 * Double(shuffled.count))
        let n2 = Int(0.9 * Double(shuffled.count))
        return (Array(shuffled[..<n1]), Array(shuffled[n1..<n2]), Array(shuffled[n2...]))
    }

    /// `train / dev / test` example counts, as printed with the configuration.
    package var sizeSummary: String { "\(train.count) / \(dev.count) / \(test.count)" }
}
