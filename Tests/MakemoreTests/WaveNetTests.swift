import Foundation
import Testing

@testable import Makemore

@Suite struct WaveNetTests {
    static let small = WaveNetConfig(vocabularySize: 6, embeddingSize: 3, hiddenSize: 5, blockSize: 4)

    static func batch(_ config: WaveNetConfig, _ n: Int, _ g: inout SeededGenerator) -> Batch {
        Batch(
            contexts: (0..<n * config.blockSize).map { _ in Int32(g.nextIndex(below: config.vocabularySize)) },
            targets: (0..<n).map { _ in Int32(g.nextIndex(below: config.vocabularySize)) })
    }

    @Test func theLecturesConfigurationHasItsParameterCountAndNames() throws {
        let config = WaveNetConfig(vocabularySize: 27)
        #expect(config.parameterCount == 76_579)
        #expect(config.levels == 3)
        #expect(config.parameterSpecs.map(\.name) == [
            "C", "W1", "bngain1", "bnbias1", "W2", "bngain2", "bnbias2", "W3", "bngain3", "bnbias3", "W4", "b4",
            "bnmean1", "bnvar1", "bnmean2", "bnvar2", "bnmean3", "bnvar3",
        ])
        #expect(config.parameterSpecs.map(\.shape)[1] == [48, 128])
        #expect(config.parameterSpecs.map(\.shape)[4] == [256, 128])
    }

    @Test func blockMustBeAPowerOfTwo() {
        for block in [0, 1, 3, 6, 12, 2048] {
            expectError(containing: "--block", "power of two") {
                _ = try WaveNetConfig(vocabularySize: 27, sizes: ModelSizes(block: block), defaults: .training)
            }
        }
        expectError(containing: "--layers") {
            _ = try WaveNetConfig(vocabularySize: 27, sizes: ModelSizes(layers: 2), defaults: .training)
        }
    }

    @Test func initialValuesAreTheLectures() {
        var g = SeededGenerator(seed: 1)
        let config = WaveNetConfig(vocabularySize: 27)
        let model = WaveNet<Double>(config: config, parameters: WaveNet<Double>.initialParameters(config, generator: &g))
        func std(_ t: Tensor<Double>) -> Double {
            let mean = t.array.reduce(0, +) / Double(t.count)
            return (t.array.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(t.count)).squareRoot()
        }
        #expect(Swift.abs(std(model.p.C) - 1) < 0.1)
        #expect(Swift.abs(std(model.p.levels[1].W) - 1 / 256.0.squareRoot()) < 0.005)
        #expect(Swift.abs(std(model.p.W) - 0.1 / 128.0.squareRoot()) < 0.001)
        #expect(model.p.b.array.allSatisfy { $0 == 0 })
        #expect(model.p.levels.allSatisfy { $0.gain.array.allSatisfy { $0 == 1 } && $0.bias.array.allSatisfy { $0 == 0 } })
        #expect(model.p.levels.allSatisfy { $0.runningVariance.array.allSatisfy { $0 == 1 } })
    }

    /// Every gradient the model writes, parameters and each level's outputs, against finite
    /// differences of the whole-tensor forward, at odd sizes: two and four levels, batches of 2 and 3.
    @Test(arguments: [(4, 2), (16, 3), (2, 5)])
    func gradientCheckPassesOnEveryTensor(block: Int, batchSize: Int) throws {
        var config = Self.small
        config.blockSize = block
        var g = SeededGenerator(seed: UInt64(block))
        let parameters = WaveNet<Double>.initialParameters(config, generator: &g)
        // Non-trivial batch-norm gains and biases, so that a wrong backward cannot hide behind 1 and 0.
        for i in 1...config.levels {
            parameters["bngain\(i)"].fillNormal(scale: 0.3, shift: 1, using: &g)
            parameters["bnbias\(i)"].fillNormal(scale: 0.3, using: &g)
        }
        let pass = try WaveNetPass(parameters: parameters, config: config, batch: Self.batch(config, batchSize, &g))
        let rows = GradientCheck().run(pass)
        #expect(rows.map(\.name) == pass.gradientOrder)
        for row in rows { #expect(row.passed, "\(row.name): \(row.maxDifference) > \(row.tolerance)") }
    }

    /// The loss of the whole-tensor forward is the model's.
    @Test func passLossIsTheModelsLoss() throws {
        var g = SeededGenerator(seed: 3)
        let config = WaveNetConfig(vocabularySize: 7, embeddingSize: 4, hiddenSize: 6, blockSize: 8)
        let model = WaveNet<Double>(config: config, parameters: WaveNet<Double>.initialParameters(config, generator: &g))
        let batch = Self.batch(config, 5, &g)
        let pass = try WaveNetPass(parameters: model.parameters.copy(), config: config, batch: batch)
        let loss = batch.withPointers { model.forward(contexts: $0, targets: $1, count: 5) }
        #expect(Swift.abs(loss - pass.loss) < 1e-12)
    }

    /// The fast step (feature slices, one or two threads) trains exactly like the plain
    /// `forward`, `backward`, `update`: 10 steps from the same values on the same batches, every
    /// parameter equal bit for bit.
    @Test(arguments: [(128, 8, 32, 1), (128, 8, 32, 2), (70, 4, 9, 2), (5, 8, 3, 2), (64, 16, 7, 2)])
    func fastStepEqualsPlainPathBitForBit(hidden: Int, block: Int, batchSize: Int, threads: Int) throws {
        let config = WaveNetConfig(vocabularySize: 27, embeddingSize: 10, hiddenSize: hidden, blockSize: block)
        var g = SeededGenerator(seed: 21)
        let fast = WaveNet<Float>(config: config, parameters: WaveNet<Float>.initialParameters(config, generator: &g))
        let plain = WaveNet<Float>(config: config, parameters: fast.parameters.copy())
        fast.threads = threads
        for step in 0..<10 {
            let batch = Self.batch(config, batchSize, &g)
            let fastLoss = batch.withPointers { fast.trainingStep(contexts: $0, targets: $1, count: batchSize, learningRate: 0.1) }
            let plainLoss = batch.withPointers { plain.forward(contexts: $0, targets: $1, count: batchSize) }
            batch.withPointers { plain.backward(contexts: $0, targets: $1) }
            plain.update(learningRate: 0.1)
            #expect(fastLoss == plainLoss, "step \(step)")
        }
        let a = fast.parameters.values, b = plain.parameters.values
        #expect((0..<a.count).allSatisfy { a.base[$0] == b.base[$0] }, "parameters differ")
        let da = fast.parameters.gradients, db = plain.parameters.gradients
        #expect((0..<da.count).allSatisfy { da.base[$0] == db.base[$0] }, "gradients differ")
    }

    /// After calibration each level's running statistics are the batch statistics of the whole
    /// set (the training-mode forward of the whole set as one batch), level after level.
    @Test func calibrationUsesTheWholeSetLevelByLevel() throws {
        let words = try WordList(text: "anna\nbob\ncyd\nada\nemma\nava\nolivia\nsophia\nisabella\nmia\nzoe\nliam\n")
        let splits = try Splits(words: words, blockSize: 4)
        let config = WaveNetConfig(vocabularySize: splits.vocabulary.count, embeddingSize: 3, hiddenSize: 5, blockSize: 4)
        var g = SeededGenerator(seed: 4)
        let model = WaveNet<Double>(config: config, parameters: WaveNet<Double>.initialParameters(config, generator: &g))
        model.calibrateBatchNorm(on: splits.train, chunk: 7)
        let pass = try WaveNetPass(
            parameters: model.parameters, config: config,
            batch: Batch(contexts: splits.train.contexts, targets: splits.train.targets))
        for i in 1...config.levels {
            let pre = pass.values["hprebn\(i)"]!.reshaped([pass.values["hprebn\(i)"]!.count / 5, 5])
            let mean = (1 / Double(pre.rows)) * pre.sumOverRows()
            let variance = (1 / Double(pre.rows - 1)) * ((pre - mean) * (pre - mean)).sumOverRows()
            expectClose(model.p.levels[i - 1].runningMean, mean, tolerance: 1e-10, "bnmean\(i)")
            expectClose(model.p.levels[i - 1].runningVariance, variance, tolerance: 1e-10, "bnvar\(i)")
        }
    }

    @Test func evaluationInChunksAndSamplingAgree() throws {
        let words = try WordList(text: "anna\nbob\ncyd\nada\nemma\nava\nolivia\nsophia\nisabella\nmia\nzoe\nliam\n")
        let splits = try Splits(words: words, blockSize: 4)
        let config = WaveNetConfig(vocabularySize: splits.vocabulary.count, embeddingSize: 3, hiddenSize: 5, blockSize: 4)
        var g = SeededGenerator(seed: 2)
        let model = WaveNet<Float>(config: config, parameters: WaveNet<Float>.initialParameters(config, generator: &g))
        let dataset = splits.train
        #expect(Swift.abs(model.loss(on: dataset, chunk: 3) - model.loss(on: dataset, chunk: 10_000)) < 1e-6)
        // The logits after "ann" are those of the context ".ann" in a batch of one.
        let logits = model.logits(after: [1, 2, 2]).array  // a, n, n (".abdc..." indices in this vocabulary)
        let context: [Int32] = [0, 1, 2, 2]
        let again = model.logits(after: [5, 1, 2, 2]).array
        #expect(logits != again)
        let direct = context.withUnsafeBufferPointer { pointer in
            model.logits(after: Array(pointer)).array
        }
        #expect(direct == logits)
    }
}
