import Foundation

/// Examples for next-character prediction: each row of `contexts` holds the indices of the
/// `blockSize` previous characters (`.`-padded at the start of a word), and `targets` the
/// index of the character that follows.
public struct Dataset: Sendable {
    public let blockSize: Int
    /// `(count, blockSize)`, row-major.
    public let contexts: [Int32]
    /// `(count)`.
    public let targets: [Int32]

    public var count: Int { targets.count }

    /// The lecture's `build_dataset`: each word plus the terminator gives one example per character.
    public init(words: [String], vocabulary: Vocabulary, blockSize: Int) throws {
        precondition(blockSize >= 1)
        // Every example stores its whole context: check the size before building it.
        let examples = words.reduce(0) { $0 + $1.unicodeScalars.count + 1 }
        let bytes = Double(examples) * Double(blockSize + 1) * 4
        let available = Double(ProcessInfo.processInfo.physicalMemory)
        if bytes > available / 2 {
            throw MakemoreError(String(
                format: "--block %d gives %d examples with %.1f GB of contexts, more than half this machine's %.1f GB; "
                    + "choose a smaller --block or a shorter word list", blockSize, examples, bytes / 1e9, available / 1e9))
        }
        var contexts: [Int32] = []
        var targets: [Int32] = []
        for word in words {
            var context = [Int32](repeating: 0, count: blockSize)
            for index in try vocabulary.encode(word) + [0] {
                contexts += context
                targets.append(index)
                context.removeFirst()
                context.append(index)
            }
        }
        self.blockSize = blockSize
        self.contexts = contexts
        self.targets = targets
    }
}

extension Dataset {
    /// Calls `body` with each run of up to `chunk` consecutive examples: pointers to their
    /// contexts `(n, blockSize)` and targets `[n]`, and `n`.
    public func forEachChunk(of chunk: Int, _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>, Int) -> Void) {
        contexts.withUnsafeBufferPointer { contexts in
            targets.withUnsafeBufferPointer { targets in
                var start = 0
                while start < count {
                    let n = Swift.min(chunk, count - start)
                    body(contexts.baseAddress! + start * blockSize, targets.baseAddress! + start, n)
                    start += n
                }
            }
        }
    }

    /// The mean over every example of the losses that `losses` returns for each chunk of up to
    /// `chunk` examples (`[n]`, one per example): each chunk's mean in `T`, weighted by its size
    /// in Double. NaN for an empty data set.
    public func meanLoss<T: Scalar>(
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
    public static func window(after word: [Int32], into context: inout [Int32]) {
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
    public let vocabulary: Vocabulary
    /// The words in shuffled order.
    public let shuffledWords: [String]
    public let train: Dataset
    public let dev: Dataset
    public let test: Dataset

    public static let shuffleSeed: UInt64 = 42

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
    public static let minimumWords = 10

    /// The words shuffled as Python's `random.seed(42); random.shuffle(words)` and cut at
    /// `int(0.8 n)` and `int(0.9 n)`.
    public static func partition(_ words: [String]) -> (train: [String], dev: [String], test: [String]) {
        var shuffled = words
        var random = PythonRandom(seed: shuffleSeed)
        random.shuffle(&shuffled)
        let n1 = Int(0.8 * Double(shuffled.count))
        let n2 = Int(0.9 * Double(shuffled.count))
        return (Array(shuffled[..<n1]), Array(shuffled[n1..<n2]), Array(shuffled[n2...]))
    }

    /// `train / dev / test` example counts, as printed with the configuration.
    public var sizeSummary: String { "\(train.count) / \(dev.count) / \(test.count)" }
}
