import Foundation
import Testing

@testable import Makemore

@Suite struct PythonRandomTests {
    @Test func getrandbitsMatchesCPython() {
        // random.seed(42); [random.getrandbits(32) for _ in range(3)]
        var random = PythonRandom(seed: 42)
        #expect([random.next32(), random.next32(), random.next32()] == [2_746_317_213, 478_163_327, 107_420_369])
        // A seed wider than 32 bits is split into 32-bit words, least significant first.
        var wide = PythonRandom(seed: (1 << 40) + 5)
        #expect([wide.next32(), wide.next32()] == [2_166_296_868, 2_220_160_828])
    }

    @Test func randbelowAndShuffleMatchCPython() {
        var random = PythonRandom(seed: 42)
        #expect((0..<5).map { _ in random.randomBelow(1000) } == [654, 114, 25, 759, 281])
        var numbers = Array(0..<10)
        var seven = PythonRandom(seed: 7)
        seven.shuffle(&numbers)
        #expect(numbers == [8, 3, 1, 4, 7, 0, 9, 6, 2, 5])
    }
}

@Suite struct DataTests {
    @Test func bundledSplitsAreTheLecturesOnes() throws {
        let words = try WordList.bundledNames()
        #expect(words.words.count == 32_033)
        let splits = try Splits(words: words, blockSize: 3)
        #expect(splits.train.count == 182_625)
        #expect(splits.dev.count == 22_655)
        #expect(splits.test.count == 22_866)
        #expect(Array(splits.shuffledWords.prefix(8)) == ["yuheng", "diondre", "xavien", "jori", "juanluis", "erandi", "phia", "samatha"])
        #expect(splits.vocabulary.count == 27)
        #expect(splits.vocabulary.string == ".abcdefghijklmnopqrstuvwxyz")
    }

    @Test func contextWindowsAreTheLecturesOnes() throws {
        let vocabulary = Vocabulary(words: ["emma", "ava"])
        #expect(vocabulary.string == ".aemv")
        let dataset = try Dataset(words: ["emma"], vocabulary: vocabulary, blockSize: 3)
        // ... -> e, ..e -> m, .em -> m, emm -> a, mma -> .
        #expect(dataset.count == 5)
        #expect(dataset.contexts == [0, 0, 0, 0, 0, 2, 0, 2, 3, 2, 3, 3, 3, 3, 1])
        #expect(dataset.targets == [2, 3, 3, 1, 0])
        let one = try Dataset(words: ["ava"], vocabulary: vocabulary, blockSize: 1)
        #expect(one.contexts == [0, 1, 4, 1])
        #expect(one.targets == [1, 4, 1, 0])
    }

    @Test func nonASCIIVocabularyIsSortedByCodePointLikePython() throws {
        // sorted(set(''.join(['zoë', 'ana', 'émile', 'Åsa'])))
        let words = try WordList(text: "zoë\nana\r\n  émile \n\nÅsa\n")
        #expect(words.words == ["zoë", "ana", "émile", "Åsa"])
        let vocabulary = Vocabulary(words: words.words)
        #expect(vocabulary.string == ".aeilmnoszÅéë")
        #expect(try vocabulary.encode("zoë") == [9, 7, 12])
        #expect(vocabulary.decode([9, 7, 12]) == "zoë")
        #expect(try Vocabulary(string: vocabulary.string) == vocabulary)
    }

    @Test func badInputGivesOneLineErrors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        expectError(containing: "does not exist") {
            _ = try WordList(contentsOf: directory.appendingPathComponent("missing.txt"))
        }
        expectError(containing: "is a directory") { _ = try WordList(contentsOf: directory) }

        let empty = directory.appendingPathComponent("empty.txt")
        try Data("\n  \n\r\n".utf8).write(to: empty)
        expectError(containing: "empty") { _ = try WordList(contentsOf: empty) }

        let latin1 = directory.appendingPathComponent("latin1.txt")
        try Data([0x61, 0x6E, 0x61, 0x0A, 0x7A, 0x6F, 0xEB, 0x0A]).write(to: latin1)  // "zoë" in Latin-1
        expectError(containing: "latin1.txt:2", "not valid UTF-8") { _ = try WordList(contentsOf: latin1) }

        let dotted = directory.appendingPathComponent("dotted.txt")
        try Data("anna\n\nj.r\n".utf8).write(to: dotted)
        expectError(containing: "dotted.txt:3", "'j.r'", "'.'") { _ = try WordList(contentsOf: dotted) }

        let words = try WordList(text: "ab\nba\n")
        expectError(containing: "'z'", "not in the vocabulary") {
            _ = try Splits(words: try WordList(text: "az\n"), blockSize: 3, vocabulary: Vocabulary(words: words.words))
        }
    }
}

/// Input that used to crash or mislead (see the hardening issue): each gets a one-line error.
@Suite struct HardeningTests {
    @Test(arguments: [1, 2, 5, 9])
    func aListTooSmallToSplitIsAnError(count: Int) throws {
        let words = try WordList(words: (0..<count).map { "w\(String(repeating: "a", count: $0 + 1))" }, source: "tiny.txt")
        var failed = false
        do { _ = try Splits(words: words, blockSize: 3) } catch let error as MakemoreError {
            failed = true
            #expect(error.message.contains("tiny.txt") && error.message.contains("split empty") && error.message.contains("at least 10"))
        }
        // Lists of 2 to 9 words: an error exactly when a split would be empty.
        let n1 = Int(0.8 * Double(count)), n2 = Int(0.9 * Double(count))
        #expect(failed == (n1 == 0 || n2 == n1 || n2 == count))
    }

    @Test func tenWordsOrMoreAlwaysSplit() throws {
        for count in 10...200 {
            let words = try WordList(words: (0..<count).map { "w\($0)".replacingOccurrences(of: "0", with: "z") })
            _ = try Splits(words: words, blockSize: 3)
        }
    }

    @Test func aByteOrderMarkIsDroppedAndControlCharactersAreErrors() throws {
        let words = try WordList(text: "\u{FEFF}anna\nbob\n")
        #expect(words.words == ["anna", "bob"])
        expectError(containing: "list.txt:2", "control character", "U+0000") {
            _ = try WordList(text: "anna\nb\u{0}b\n", source: "list.txt")
        }
        expectError(containing: ":1", "U+001B") { _ = try WordList(text: "\u{1B}[31mred\n") }
    }

    /// The byte-wise reader of ASCII lists gives what the general reader gives: the same words,
    /// the same errors with the same line numbers, on random texts of letters, spaces, tabs,
    /// every line break (`\r\n` included), dots and control characters.
    @Test func theAsciiReaderEqualsTheGeneralOne() throws {
        var g = SeededGenerator(seed: 3)
        let pieces = ["ab", "c", "zoe", " ", "\t", "\n", "\r", "\r\n", "\u{0B}", "\u{0C}", "\n\n", ".", "\u{1}", "\u{7F}", "x y"]
        for round in 0..<2_000 {
            let count = g.nextIndex(below: 12)
            let text = (0..<count).map { _ in pieces[g.nextIndex(below: round % 3 == 0 ? pieces.count : 12)] }.joined()
            func outcome(_ read: () throws -> [String]) -> String {
                do { return try read().joined(separator: "|") } catch { return "error: \(error)" }
            }
            let general = outcome { try WordList.generalWords(text, source: "t") }
            let ascii = outcome { try text.utf8.withContiguousStorageIfAvailable { try WordList.asciiWords($0, source: "t")! } ?? [] }
            #expect(general == ascii, "\(text.debugDescription)")
        }
    }

    @Test func aThreadTunerWithAShortPeriodNeverTraps() {
        for period in [0, 1, 2, 3, 4, 7, 100, 399, 400] {
            var tuner = ThreadTuner(candidates: [1, 2], period: period)
            let threads = (0..<50).map { _ in tuner.threadsForNextStep() }
            #expect(threads.allSatisfy { [1, 2].contains($0) })
        }
    }
}

/// Sizes that would overflow or not fit give a message naming them, before anything is allocated.
@Suite struct SizeTests {
    @Test func absurdSizesAreErrorsNamingTheOption() {
        expectError(containing: "--layers", "at most") {
            _ = try MLPConfig(vocabularySize: 27, sizes: ModelSizes(layers: 100_000_000), defaults: .training)
        }
        expectError(containing: "--hidden", "at most") {
            _ = try MLPConfig(vocabularySize: 27, sizes: ModelSizes(hidden: Int.max), defaults: .training)
        }
        expectError(containing: "--embed", "at most") {
            _ = try WaveNetConfig(vocabularySize: 27, sizes: ModelSizes(embed: 1 << 40), defaults: .training)
        }
        let config = MLPConfig(vocabularySize: 27, hiddenSize: 2000)
        expectError(containing: "batch 100000000", "GB", "--batch") { try config.checkMemory(batchSize: 100_000_000) }
        #expect((try? config.checkMemory(batchSize: 32)) != nil)
    }

    /// Contexts are built as they are read: a long context costs no memory in the data set.
    @Test func aLongContextCostsTheDataSetNothing() throws {
        let splits = try Splits(words: WordList.bundledNames(), blockSize: 60_000)
        #expect(splits.train.count == 182_625 && splits.train.characters.count == 182_625)
        let context = UnsafeMutablePointer<Int32>.allocate(capacity: 60_000)
        defer { context.deallocate() }
        let target = splits.train.example(5, context: context)
        let word = splits.train.word(of: 5)
        let start = splits.train.wordStarts[word]
        #expect(target == splits.train.characters[5])
        #expect((0..<60_000 - (5 - start)).allSatisfy { context[$0] == 0 })
    }

    /// Contexts read one by one, in chunks, or all at once are the same.
    @Test func examplesReadInChunksAreTheSame() throws {
        let splits = try Splits(words: WordList(text: "anna\nbob\ncyd\nada\nemma\nava\nolivia\nsophia\nisabella\nmia\nzoe\n"), blockSize: 3)
        let dataset = splits.train, all = dataset.contexts
        var seen = 0
        dataset.forEachChunk(of: 7) { contexts, targets, n, first in
            for i in 0..<n {
                #expect(Array(UnsafeBufferPointer(start: contexts + 3 * i, count: 3)) == Array(all[3 * (first + i)..<3 * (first + i + 1)]))
                #expect(targets[i] == dataset.characters[first + i])
            }
            seen += n
        }
        #expect(seen == dataset.count)
        for example in 0..<dataset.count {
            let context = UnsafeMutablePointer<Int32>.allocate(capacity: 3)
            defer { context.deallocate() }
            _ = dataset.example(example, context: context)
            #expect(Array(UnsafeBufferPointer(start: context, count: 3)) == Array(all[3 * example..<3 * example + 3]))
        }
    }

    /// A drawn example's context, built from the table of positions in words (block sizes up to
    /// 255) or by finding its word (longer blocks), is the one built from its word's start.
    @Test(arguments: [1, 2, 3, 8, 16, 255, 256])
    func aDrawnExampleHasTheContextOfItsWord(blockSize: Int) throws {
        let words = try WordList(words: Array(WordList.bundledNames().words.prefix(300)) + ["a", String(repeating: "b", count: 300)])
        let dataset = try Dataset(words: words.words, vocabulary: Vocabulary(words: words.words), blockSize: blockSize)
        #expect(dataset.positions.count == (blockSize <= 255 ? dataset.count : 0))
        let drawn = UnsafeMutablePointer<Int32>.allocate(capacity: blockSize)
        let built = UnsafeMutablePointer<Int32>.allocate(capacity: blockSize)
        defer { drawn.deallocate(); built.deallocate() }
        for example in 0..<dataset.count {
            let start = dataset.wordStarts[dataset.word(of: example)]
            let target = dataset.example(example, context: drawn)
            #expect(target == dataset.example(example, context: built, wordStart: start))
            let same = (0..<blockSize).allSatisfy { drawn[$0] == built[$0] }
            #expect(same, "example \(example), block \(blockSize)")
            if !same { return }
        }
    }

    /// Edited metadata: the shapes are compared with the file's tensors before the table is
    /// allocated, so an edited size costs nothing.
    @Test func editedMetadataIsCheckedBeforeAllocating() throws {
        var g = SeededGenerator(seed: 1)
        let config = MLPConfig(vocabularySize: 27, hiddenSize: 8)
        let model = MLP<Float>(config: config, generator: &g)
        let vocabulary = Vocabulary(words: ["abcdefghijklmnopqrstuvwxyz"])
        let checkpoint = Checkpoint(
            model: model, vocabulary: vocabulary, options: TrainingOptions(), step: 1, finished: false,
            generator: g, dataPath: nil)
        for (key, value, fragment) in [("hidden", "1000000", "shape"), ("layers", "100000000", "--layers"),
                                       ("embed", "99999999999999999999", "not an integer"), ("block", "-3", "--block")] {
            var file = try checkpoint.safeTensors()
            file.metadata[key] = value
            expectError(containing: fragment) { _ = try Checkpoint(file) }
        }
    }
}
