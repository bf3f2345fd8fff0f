import Foundation
import Testing

@testable import Makemore

/// The Transformer's layers against central finite differences of their forward, in Double, at
/// small odd sizes (loss `Σ out ⊙ R`, so the gradient flowing in is `R`), and the whole model
/// against the gradient check.
@Suite struct TransformerTests {
    @Test(arguments: [(1, 1), (2, 3), (5, 7)])
    func layerNormBackwardMatchesFiniteDifferences(rows n: Int, width c: Int) {
        var g = SeededGenerator(seed: UInt64(10 * n + c))
        let x: Tensor<Double> = randomTensor([n, c], &g, scale: 2, shift: 0.3)
        let norm = LayerNorm<Double>(
            weight: randomTensor([c], &g, scale: 0.3, shift: 1), bias: randomTensor([c], &g, scale: 0.3),
            dWeight: Tensor(shape: [c]), dBias: Tensor(shape: [c]), epsilon: 1e-5)
        let r: Tensor<Double> = randomTensor([n, c], &g)
        let out = Tensor<Double>(shape: [n, c]), mean = Tensor<Double>(shape: [n]), rstd = Tensor<Double>(shape: [n])
        func loss() -> Double { norm.forward(x, into: out, mean: mean, rstd: rstd); return dot(out, r) }
        _ = loss()
        let dX = Tensor<Double>(shape: [n, c])
        norm.backward(x: x, mean: mean, rstd: rstd, dOut: r, dX: dX)
        expectClose(dX, numericalGradient(of: x, loss), tolerance: 1e-7, "dx")
        expectClose(norm.dWeight, numericalGradient(of: norm.weight, loss), tolerance: 1e-7, "dweight")
        expectClose(norm.dBias, numericalGradient(of: norm.bias, loss), tolerance: 1e-7, "dbias")
    }

    @Test(arguments: [1, 3, 17])
    func geluBackwardMatchesFiniteDifferences(count n: Int) {
        var g = SeededGenerator(seed: UInt64(n))
        let x: Tensor<Double> = randomTensor([n, 3], &g, scale: 2)
        let r: Tensor<Double> = randomTensor([n, 3], &g)
        let out = Tensor<Double>(shape: [n, 3])
        func loss() -> Double { GELU.forward(x, into: out); return dot(out, r) }
        let dX = Tensor<Double>(shape: [n, 3])
        GELU.backward(x: x, dOut: r, dX: dX)
        expectClose(dX, numericalGradient(of: x, loss), tolerance: 1e-8, "dx")
        #expect(abs(out[0] - 0.5 * x[0] * (1 + Foundation.erf(x[0] / 2.squareRoot()))) < 1e-3, "close to the exact GELU")
    }

    @Test(arguments: [(1, 1, 1, true), (3, 5, 2, true), (4, 2, 7, false)])
    func torchLinearBackwardMatchesFiniteDifferences(rows n: Int, inputs: Int, outputs: Int, bias: Bool) {
        var g = SeededGenerator(seed: UInt64(100 * n + 10 * inputs + outputs))
        let x: Tensor<Double> = randomTensor([n, inputs], &g)
        let linear = TorchLinear<Double>(
            weight: randomTensor([outputs, inputs], &g), bias: bias ? randomTensor([outputs], &g) : nil,
            dWeight: Tensor(shape: [outputs, inputs]), dBias: bias ? Tensor(shape: [outputs]) : nil)
        let r: Tensor<Double> = randomTensor([n, outputs], &g)
        let out = Tensor<Double>(shape: [n, outputs])
        func loss() -> Double { linear.forward(x, into: out); return dot(out, r) }
        let dX = Tensor<Double>(shape: [n, inputs])
        linear.backward(x: x, dOut: r, dX: dX)
        expectClose(dX, numericalGradient(of: x, loss), tolerance: 1e-7, "dx")
        expectClose(linear.dWeight, numericalGradient(of: linear.weight, loss), tolerance: 1e-7, "dW")
        if bias { expectClose(linear.dBias!, numericalGradient(of: linear.bias!, loss), tolerance: 1e-7, "db") }
    }

    /// Words of 0, 3 and 1 characters (1, 4 and 2 positions), block 6.
    static let words: [[Int32]] = [[], [3, 1, 2], [4]]

    @Test(arguments: [(1, 5), (3, 6), (2, 2)])
    func attentionBackwardMatchesFiniteDifferences(heads: Int, width c: Int) {
        var g = SeededGenerator(seed: UInt64(heads * 10 + c))
        let batch = WordBatch(words: Self.words, blockSize: 6), n = batch.rows
        let attention = CausalSelfAttention(heads: heads, width: c)
        let qkv: Tensor<Double> = randomTensor([n, 3 * c], &g)
        let att = Tensor<Double>(shape: [attention.attentionOffsets(batch).last!])
        let r: Tensor<Double> = randomTensor([n, c], &g)
        let y = Tensor<Double>(shape: [n, c])
        func loss() -> Double { attention.forward(qkv: qkv, batch: batch, att: att, into: y); return dot(y, r) }
        _ = loss()
        let dQKV = Tensor<Double>(shape: [n, 3 * c])
        attention.backward(qkv: qkv, batch: batch, att: att, dY: r, dQKV: dQKV)
        expectClose(dQKV, numericalGradient(of: qkv, loss), tolerance: 1e-8, "dqkv")
        // The first position of each word sees only itself: y = v.
        for w in 0..<batch.count {
            let row = batch.starts[w]
            for j in 0..<c { #expect(abs(y[row, j] - qkv[row, 2 * c + j]) < 1e-12) }
        }
    }

    @Test func positionEmbeddingAddsIntoRepeatedRows() {
        var g = SeededGenerator(seed: 7)
        let batch = WordBatch(words: Self.words + [[3, 3]], blockSize: 6)
        let embedding = PositionEmbedding<Double>(
            tokens: randomTensor([5, 3], &g), positions: randomTensor([6, 3], &g), dTokens: Tensor(shape: [5, 3]),
            dPositions: Tensor(shape: [6, 3]))
        let r: Tensor<Double> = randomTensor([batch.rows, 3], &g)
        let out = Tensor<Double>(shape: [batch.rows, 3])
        func loss() -> Double { embedding.forward(batch, into: out); return dot(out, r) }
        embedding.backward(batch, dOut: r)
        expectClose(embedding.dTokens, numericalGradient(of: embedding.tokens, loss), tolerance: 1e-8, "dwte")
        expectClose(embedding.dPositions, numericalGradient(of: embedding.positions, loss), tolerance: 1e-8, "dwpe")
    }

    @Test func wordBatchPacksPositions() {
        let batch = WordBatch(words: Self.words, blockSize: 6)
        #expect(batch.starts == [0, 1, 5, 7])
        #expect(batch.inputs == [0, 0, 3, 1, 2, 0, 4])
        #expect(batch.targets == [0, 3, 1, 2, 0, 4, 0])
        let exported = batch.exportedTensors
        #expect(exported[0].shape == [3, 6] && exported[1].shape == [3, 6])
        #expect(Array(exported[0].values[6..<12]) == [0, 3, 1, 2, 0, 0])
        #expect(Array(exported[1].values[6..<12]) == [3, 1, 2, 0, -1, -1])
    }

    @Test func defaultSizesAreMakemores() throws {
        let config = try TransformerConfig(vocabularySize: 27, sizes: ModelSizes(), defaults: .training)
        #expect(config.parameterCount == 204_544)
        #expect(config.parameterSpecs.first?.name == "transformer.wte.weight")
        #expect(config.parameterSpecs.last?.name == "lm_head.weight")
        expectError(containing: "--embed 10", "--heads 4") {
            _ = try TransformerConfig(vocabularySize: 27, sizes: ModelSizes(embed: 10), defaults: .training)
        }
    }

    @Test(arguments: [(6, 1, 1), (6, 3, 2)])
    func gradientCheckPasses(embed: Int, heads: Int, layers: Int) throws {
        let config = TransformerConfig(vocabularySize: 5, embeddingSize: embed, layers: layers, heads: heads, blockSize: 6)
        var g = SeededGenerator(seed: 1)
        let parameters = Transformer<Double>.initialParameters(config, generator: &g)
        let pass = try TransformerPass(parameters: parameters, config: config, batch: WordBatch(words: Self.words, blockSize: 6))
        let rows = GradientCheck().run(pass)
        #expect(rows.count == pass.gradientOrder.count)
        for row in rows { #expect(row.passed, "\(row.name): maxdiff \(row.maxDifference)") }
    }

    @Test func lossOnDatasetIsPerCharacter() throws {
        let words = ["ab", "c", "abc"]
        let dataset = try Dataset(words: words, vocabulary: Vocabulary(words: words), blockSize: 4)
        let config = TransformerConfig(vocabularySize: 4, embeddingSize: 4, layers: 1, heads: 2, blockSize: 4)
        var g = SeededGenerator(seed: 3)
        let model = Transformer<Double>(config: config, parameters: Transformer<Double>.initialParameters(config, generator: &g))
        let whole = model.forward(WordBatch(words: 0..<3, of: dataset))
        #expect(abs(model.loss(on: dataset, chunk: 2) - whole) < 1e-12)
        let logits = model.logits(after: [1, 2])
        #expect(logits.shape == [4])
    }

    // MARK: Training, sampling, checkpoints

    static let nameSplits: Splits = {
        let words = try! WordList(words: Array(try! WordList.bundledNames().words.prefix(3000)))
        return try! Splits(words: words, blockSize: words.longestWord + 1)
    }()

    static func options(steps: Int) -> TrainingOptions {
        var options = Transformer<Float>.defaultOptions
        options.steps = steps
        options.batchSize = 8
        options.learningRate = 3e-3
        options.evaluationInterval = 10
        options.seed = 9
        return options
    }

    @Test func theRecipeIsAdamWOnWholeWordsWithABlockOfTheLongestWord() throws {
        let options = Transformer<Float>.defaultOptions
        #expect(options.batchSize == 32 && options.optimizer.name == "adamw" && options.learningRateSchedule == .cosine)
        #expect(try WordList.bundledNames().longestWord == 15)
        #expect(Transformer<Float>.readsWholeWords && !MLP<Float>.readsWholeWords)
    }

    @Test func theCosineScheduleGoesFromTheRateToATenthOfIt() {
        var options = TrainingOptions()
        options.steps = 101
        options.learningRate = 1e-3
        options.learningRateSchedule = .cosine
        let rates = (0..<options.steps).map { options.learningRate(atStep: $0) }
        #expect(rates.first == 1e-3 && abs(rates.last! - 1e-4) < 1e-18 && abs(rates[50] - 5.5e-4) < 1e-15)
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 >= $1 })
        options.learningRateSchedule = .constant
        #expect(options.learningRate(atStep: 100) == 1e-3)
    }

    /// A word as long as the block or longer is an error that names it, before any training.
    @Test func aWordLongerThanTheBlockIsAnError() throws {
        let words = try WordList(words: ["ann", "bo", "cy", "dee", "ed", "fay", "gus", "hal", "ida", "johannes"])
        let splits = try Splits(words: words, blockSize: 8)
        expectError(containing: "'johannes'", "--block 9") { try splits.checkWordsFit(blockSize: 8) }
        try splits.checkWordsFit(blockSize: 9)
        expectError(containing: "'johannes'") {
            _ = try Trainer(model: Transformer<Float>.self, sizes: ModelSizes(embed: 4, block: 8, layers: 1, heads: 2),
                            options: Self.options(steps: 2), splits: splits, dataPath: nil)
        }
        try MLP<Float>.checkWordsFit(splits, blockSize: 3)  // context windows read any length
    }

    /// Sampling feeds what makemore's `generate` feeds: the start token and the word while they
    /// fit the block, then the last `blockSize` characters (the start token cropped away).
    @Test func samplingCropsToTheLastBlockSizeTokensAsMakemore() {
        let config = TransformerConfig(vocabularySize: 4, embeddingSize: 4, layers: 1, heads: 2, blockSize: 4)
        var g = SeededGenerator(seed: 5)
        let model = Transformer<Float>(config: config, parameters: Transformer<Float>.initialParameters(config, generator: &g))
        func logits(_ word: [Int32]) -> [Float] { model.logits(after: word).array }
        func forward(_ inputs: [Int32]) -> [Float] {
            let batch = WordBatch(sequence: inputs, blockSize: 4)
            return model.forwardLogits(batch).rows(inputs.count - 1..<inputs.count).array
        }
        #expect(logits([3, 1, 2]) == forward([0, 3, 1, 2]))
        #expect(logits([2, 3, 1, 2]) == forward([2, 3, 1, 2]))
        #expect(logits([1, 3, 2, 3, 1, 2]) == forward([2, 3, 1, 2]))
        #expect(logits([3, 1, 2]) != logits([2, 3, 1, 2]))
    }

    /// With AdamW and the cosine schedule, 25 steps, saved, loaded and resumed to 50: the same
    /// weights, moments, log and best dev loss, bit for bit, as 50 steps in one go. The file's
    /// tensors carry makemore's state_dict names.
    @Test func aResumedAdamWRunEndsBitForBitLikeAnUninterruptedOne() throws {
        let splits = Self.nameSplits
        let sizes = ModelSizes(embed: 8, layers: 2, heads: 2)
        func trainer() throws -> Trainer {
            try Trainer(model: Transformer<Float>.self, sizes: sizes, options: Self.options(steps: 50), splits: splits, dataPath: nil)
        }
        let whole = try trainer()
        try whole.train()

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try RunDirectory(path: directory.path)
        let first = try trainer()
        var stepsTaken = 0
        #expect(try first.train(shouldStop: { stepsTaken == 25 }, observe: { if case .step = $0 { stepsTaken += 1 } }) == .stopped)
        try run.save(first.checkpoint(), log: first.log)

        let file = try SafeTensors(contentsOf: run.model)
        #expect(file.metadata["model"] == "transformer" && file.metadata["lr_schedule"] == "cosine" && file.metadata["block"] == "16")
        #expect(file.names.contains("transformer.h.1.attn.c_attn.weight") && file.names.contains("lm_head.weight"))
        #expect(file.names.contains("optimizer.exp_avg.transformer.wte.weight"))
        let checkpoint = try Checkpoint(contentsOf: run.model)
        #expect(checkpoint.options == Self.options(steps: 50))
        let resumed = try Trainer(resuming: checkpoint, options: checkpoint.options, splits: splits, log: try run.readLog())
        #expect(try resumed.train() == .finished)
        let a = resumed.model.parameters.values, b = whole.model.parameters.values
        #expect((0..<a.count).allSatisfy { a.base[$0] == b.base[$0] }, "parameters differ")
        let (m, wm) = (resumed.optimizerState, whole.optimizerState)
        #expect((0..<m.firstMoment.count).allSatisfy {
            m.firstMoment.base[$0] == wm.firstMoment.base[$0] && m.secondMoment.base[$0] == wm.secondMoment.base[$0]
        })
        #expect(m.step == 50 && resumed.log == whole.log && resumed.best == whole.best)
        let sampler = try Sampler(model: resumed.model, vocabulary: splits.vocabulary)
        var g = SeededGenerator(seed: 1)
        #expect(try !sampler.sample(using: &g).contains("."))
    }
}

