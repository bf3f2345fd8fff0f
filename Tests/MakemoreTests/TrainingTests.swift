import Foundation
import Testing

@testable import Makemore

@Suite struct TrainingTests {
    static let config = MLPConfig(vocabularySize: 27, embeddingSize: 4, hiddenSize: 16, blockSize: 3, hiddenLayers: 2)

    static func options(steps: Int) -> TrainingOptions {
        var options = TrainingOptions()
        options.steps = steps
        options.batchSize = 8
        options.learningRate = 0.1
        options.learningRateDecayStep = steps / 2
        options.evaluationInterval = 10
        options.seed = 9
        return options
    }

    static let splits: Splits = {
        // A tenth of the names keeps the test quick; the split machinery is the real one.
        let words = try! WordList.bundledNames()
        return try! Splits(words: WordList(words: Array(words.words.prefix(3000))), blockSize: 3)
    }()

    /// Small sizes of each model for the trainer's tests.
    static let models: [(String, ModelSizes)] = [
        ("mlp", ModelSizes(embed: 4, hidden: 16, block: 3, layers: 2)),
        ("wavenet", ModelSizes(embed: 4, hidden: 64, block: 4)),
        // The word models: block 16, the longest of the bundled names + 1.
        ("transformer", ModelSizes(embed: 8, block: 16, layers: 2, heads: 2)),
        ("bigram", ModelSizes(block: 16)),
        ("bow", ModelSizes(embed: 8, hidden: 16, block: 16)),
        ("rnn", ModelSizes(embed: 8, hidden: 12, block: 16)),
        ("gru", ModelSizes(embed: 8, hidden: 12, block: 16)),
    ]

    static func trainer(_ model: String, _ sizes: ModelSizes, steps: Int, splits: Splits) throws -> Trainer {
        try Trainer(model: try Models.named(model), sizes: sizes, options: Self.options(steps: steps), splits: splits, dataPath: nil)
    }

    /// Stopped after 25 steps, saved, loaded and resumed: the same weights, bit for bit, as 50
    /// steps in one go, and the same log; for every model, on one thread and two.
    @Test(arguments: models, [1, 2])
    func resumedRunEndsBitForBitLikeAnUninterruptedOne(model: (name: String, sizes: ModelSizes), threads: Int) throws {
        let splits = model.sizes.block == 3 ? Self.splits : try Splits(words: WordList(words: Self.splits.shuffledWords), blockSize: model.sizes.block!)
        let whole = try Self.trainer(model.name, model.sizes, steps: 50, splits: splits)
        #expect(try whole.train() == .finished)

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try RunDirectory(path: directory.path)
        let first = try Self.trainer(model.name, model.sizes, steps: 50, splits: splits)
        first.model.threads = threads
        var stepsTaken = 0
        #expect(try first.train(shouldStop: { stepsTaken == 25 }, observe: { if case .step = $0 { stepsTaken += 1 } }) == .stopped)
        #expect(first.step == 25)
        try run.save(first.checkpoint(), log: first.log)

        let checkpoint = try Checkpoint(contentsOf: run.model)
        #expect(checkpoint.model.name == model.name)
        let resumed = try Trainer(resuming: checkpoint, options: checkpoint.options, splits: splits, log: try run.readLog())
        resumed.model.threads = threads
        #expect(try resumed.train() == .finished)
        #expect(resumed.step == 50)
        for entry in whole.model.parameters.entries {
            #expect(resumed.model.parameters[entry.name].array == whole.model.parameters[entry.name].array, "\(entry.name)")
        }
        #expect(resumed.log == whole.log)
        #expect(resumed.generator == whole.generator)

        // A log that ran ahead of the checkpoint (killed between the two writes) is trimmed.
        #expect(whole.log.truncated(toStep: 25) == first.log)
    }

    /// Two threads split every step into feature blocks and batch rows: the run, its losses and its
    /// dev losses are bit for bit those of one thread. Two feature blocks from 64 hidden features;
    /// odd batch sizes leave the parts uneven rows.
    @Test(arguments: [(64, 1, 8), (100, 3, 17)])
    func twoThreadsTrainBitForBitLikeOne(hidden: Int, layers: Int, batch: Int) throws {
        // 400 names: a dev split of about 300 examples still has chunks of more than 64 rows,
        // which the evaluation shares between the threads.
        let words = try WordList.bundledNames()
        let splits = try Splits(words: WordList(words: Array(words.words.prefix(400))), blockSize: 3)
        var config = Self.config
        config.hiddenSize = hidden
        config.hiddenLayers = layers
        var options = Self.options(steps: 30)
        options.batchSize = batch
        options.evaluationInterval = 30
        var runs: [Trainer] = []
        for threads in [1, 2, 0] {  // 0: chosen as it goes, switching every few steps
            let trainer = try Trainer(MLP<Float>.self, config: config, options: options, splits: splits, dataPath: nil)
            trainer.model.threads = threads
            if threads == 0 { trainer.threadTuner = ThreadTuner(candidates: [1, 2], probeSteps: 3, period: 7) }
            try trainer.train()
            trainer.finish()
            runs.append(trainer)
        }
        for run in runs.dropFirst() {
            for entry in runs[0].model.parameters.entries {
                #expect(run.model.parameters[entry.name].array == runs[0].model.parameters[entry.name].array, "\(entry.name)")
            }
            #expect(run.log == runs[0].log)
            #expect(run.model.loss(on: splits.dev) == runs[0].model.loss(on: splits.dev))
        }
        #expect(runs[2].threadTuner!.stepsByCandidate.allSatisfy { $0 > 0 })
    }

    /// The tuner times each candidate for `probeSteps` steps at the start of every period (and
    /// after a restart), then keeps one of them.
    @Test func threadTunerProbesEachCandidateThenKeepsOne() {
        var tuner = ThreadTuner(candidates: [1, 2], probeSteps: 2, period: 7)
        let first = (0..<7).map { _ in tuner.threadsForNextStep() }
        #expect(Array(first.prefix(4)) == [1, 1, 2, 2])
        #expect(Set(first.suffix(3)).count == 1 && [1, 2].contains(first[4]))
        #expect(Array((0..<4).map { _ in tuner.threadsForNextStep() }) == [1, 1, 2, 2], "a new period probes again")
        _ = tuner.threadsForNextStep()
        #expect(tuner.threadsForNextStep(restart: true) == 1)
        #expect(tuner.stepsByCandidate.reduce(0, +) == 13)
        var single = ThreadTuner(candidates: [1], probeSteps: 2, period: 4)
        #expect((0..<6).map { _ in single.threadsForNextStep() } == [1, 1, 1, 1, 1, 1])
    }

    @Test func trainingLowersTheDevLoss() throws {
        let trainer = try Trainer(MLP<Float>.self, config: Self.config, options: Self.options(steps: 600), splits: Self.splits, dataPath: nil)
        let before = trainer.model.loss(on: Self.splits.dev)
        try trainer.train()
        trainer.finish()
        let after = trainer.model.loss(on: Self.splits.dev)
        #expect(after < before - 0.3, "dev loss \(before) -> \(after)")
        #expect(trainer.log.losses.count == 600)
        #expect(trainer.log.devLosses.map(\.step) == Array(stride(from: 10, through: 600, by: 10)))
        #expect(trainer.log.learningRates.first == 0.1 && trainer.log.learningRates.last == Float(0.01))
    }

    @Test func aLossThatIsNotFiniteStopsWithTheStep() throws {
        let trainer = try Trainer(MLP<Float>.self, config: Self.config, options: Self.options(steps: 100), splits: Self.splits, dataPath: nil)
        try trainer.train(shouldStop: { trainer.step == 30 })
        let before = trainer.model.parameters["W2"].array
        trainer.model.parameters["W1"][3] = .infinity  // as a diverging run would leave it
        expectError(containing: "at step 31", "smaller --lr") { try trainer.train() }
        #expect(trainer.step == 30)
        #expect(trainer.model.parameters["W2"].array == before, "the bad step's gradients were applied")
    }

    @Test func optionsOutOfRangeAreErrors() {
        var options = TrainingOptions()
        options.batchSize = 1
        expectError(containing: "--batch", "at least 2") { try options.validate() }
        options = TrainingOptions()
        options.steps = -1
        expectError(containing: "--steps") { try options.validate() }
        options = TrainingOptions()
        options.learningRate = 0
        expectError(containing: "--lr") { try options.validate() }
        var config = Self.config
        config.hiddenSize = 0
        expectError(containing: "--hidden", "at least 1") { try config.validate() }
    }

    @Test func aRunDirectoryHasOneWriterAndLosesStaleTemporaryFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try RunDirectory(path: directory.path)
        let lock = try run.lock()
        expectError(containing: "another makemore train", "process \(getpid())") { _ = try RunDirectory(path: directory.path).lock() }
        lock.release()
        let again = try run.lock()
        defer { again.release() }
        let stale = directory.appendingPathComponent(".model.safetensors.1234.tmp")
        let other = directory.appendingPathComponent(".notes.tmp")
        for url in [stale, other] { _ = FileManager.default.createFile(atPath: url.path, contents: Data([1])) }
        run.removeStaleTemporaryFiles()
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(FileManager.default.fileExists(atPath: other.path), "a file that is not the run's own stays")
    }

    @Test func crc32cHasItsCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)  // RFC 3720's check value
        #expect(CRC32C.checksum(Array("6789".utf8), continuing: CRC32C.checksum(Array("12345".utf8))) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    /// Every flip of one bit in the tensor data is caught by the checksum; a file without one
    /// loads with a note.
    @Test func aFlippedBitInTheTensorDataIsCaught() throws {
        let trainer = try Trainer(MLP<Float>.self, config: Self.config, options: Self.options(steps: 2), splits: Self.splits, dataPath: nil)
        let file = try trainer.checkpoint().safeTensors()
        #expect(try Checkpoint(file).notes.isEmpty)
        let bytes = file.serialized()
        let headerLength = Int(bytes[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
        let dataStart = 8 + headerLength
        var g = SeededGenerator(seed: 5)
        for _ in 0..<60 {
            var damaged = bytes
            damaged[dataStart + g.nextIndex(below: bytes.count - dataStart)] ^= UInt8(1 << g.nextIndex(below: 8))
            expectError(containing: "checksum", "damaged") { _ = try Checkpoint(try SafeTensors(bytes: damaged)) }
        }
        var unchecked = file
        unchecked.metadata[Checkpoint.checksumKey] = nil
        #expect(try Checkpoint(unchecked).notes.first?.contains("no checksum") == true)
    }

    @Test func aCheckpointWithANonFiniteParameterIsAnError() throws {
        let trainer = try Trainer(MLP<Float>.self, config: Self.config, options: Self.options(steps: 2), splits: Self.splits, dataPath: nil)
        trainer.model.parameters["W2"][5] = .nan
        var file = try trainer.checkpoint().safeTensors()
        file.metadata[Checkpoint.checksumKey] = nil  // as another tool would write it
        expectError(containing: "'W2'", "nan", "element 5") { _ = try Checkpoint(file) }
    }

    @Test func checkpointRoundTripsAndRejectsBadFiles() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainer = try Trainer(MLP<Float>.self, config: Self.config, options: Self.options(steps: 5), splits: Self.splits, dataPath: nil)
        try trainer.train()
        let url = directory.appendingPathComponent("model.safetensors")
        try trainer.checkpoint().write(to: url)
        let loaded = try Checkpoint(contentsOf: url)
        #expect(loaded.model.config as? MLPConfig == Self.config)
        #expect(loaded.vocabulary == Self.splits.vocabulary)
        #expect(loaded.step == 5 && loaded.options == Self.options(steps: 5) && loaded.generator == trainer.generator)
        #expect(loaded.model.parameters["W2"].array == trainer.model.parameters["W2"].array)

        // Truncated.
        let bytes = try Data(contentsOf: url)
        let truncated = directory.appendingPathComponent("truncated.safetensors")
        try bytes.prefix(bytes.count - 100).write(to: truncated)
        expectError(containing: "truncated.safetensors") { _ = try Checkpoint(contentsOf: truncated) }

        // Shapes that disagree with the configuration in the metadata.
        var file = try trainer.checkpoint().safeTensors()
        file.metadata["hidden"] = "17"
        expectError(containing: "W1", "shape") { _ = try Checkpoint(file) }

        // Not a model at all.
        var other = SafeTensors(metadata: ["format": "pt"])
        try other.add("x", floats: [1], shape: [1])
        expectError(containing: "not a makemore model") { _ = try Checkpoint(other) }
    }

    @Test func runDirectoryThatCannotBeWrittenIsAnError() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        expectError(containing: "is a file") { _ = try RunDirectory(path: file.path) }
        expectError(containing: "cannot create") { _ = try RunDirectory(path: file.appendingPathComponent("run").path) }
    }

    @Test func samplerHonoursSeedPrefixTopKAndVocabulary() throws {
        let trainer = try Trainer(MLP<Float>.self, config: Self.config, options: Self.options(steps: 200), splits: Self.splits, dataPath: nil)
        try trainer.train()
        let sampler = try Sampler(model: trainer.model, vocabulary: Self.splits.vocabulary)
        var g1 = SeededGenerator(seed: 1), g2 = SeededGenerator(seed: 1)
        let a = try (0..<10).map { _ in try sampler.sample(using: &g1) }
        let b = try (0..<10).map { _ in try sampler.sample(using: &g2) }
        #expect(a == b)
        #expect(Set(a).count > 1)
        for _ in 0..<5 { #expect(try sampler.sample(prefix: "ka", using: &g1).hasPrefix("ka")) }
        // Top-1 is greedy: every draw is the same word.
        let greedy = try Sampler(model: trainer.model, vocabulary: Self.splits.vocabulary, topK: 1)
        let greedyWords = try (0..<5).map { _ in try greedy.sample(using: &g1) }
        #expect(Set(greedyWords).count == 1)
        expectError(containing: "'Z'", "not in the vocabulary") { _ = try sampler.sample(prefix: "Zed", using: &g1) }
        expectError(containing: "'.'", "start/end token") { _ = try sampler.sample(prefix: ".", using: &g1) }
        expectError(containing: "--temperature") {
            _ = try Sampler(model: trainer.model, vocabulary: Self.splits.vocabulary, temperature: 0)
        }
    }
}

@Suite struct TrainingLogTests {
    /// Writing the log in pieces, as the trainer's saves do, gives the same file as writing it whole.
    @Test func incrementalCSVEqualsWholeCSV() throws {
        var log = TrainingLog()
        var bytes: [UInt8] = []
        var written = 0
        for step in 1...25 {
            log.append(step: step, learningRate: step < 12 ? 0.1 : 0.01, loss: Float(3) / Float(step))
            if step % 5 == 0 { log.recordDevLoss(2.5 - Double(step) / 100, atStep: step) }
            if step % 7 == 0 || step == 25 {
                log.appendCSV(to: &bytes, rowsAlreadyWritten: written)
                written = log.losses.count
            }
        }
        #expect(bytes == log.csv)
        let parsed = try TrainingLog(csv: String(decoding: bytes, as: UTF8.self))
        #expect(parsed == log)
        #expect(parsed.devLosses.map(\.step) == [5, 10, 15, 20, 25])
        expectError(containing: "not a training log") { _ = try TrainingLog(csv: "a,b\n1,2\n") }
        expectError(containing: ":3", "malformed") { _ = try TrainingLog(csv: "step,lr,train_loss,dev_loss\n1,0.1,3,\n5,0.1,3,\n") }
    }
}
