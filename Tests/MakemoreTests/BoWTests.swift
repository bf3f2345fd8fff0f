import Testing

@testable import Makemore

/// makemore's Bigram and BoW: the bag of words' backward against central finite differences in
/// Double, both models against the gradient check, and their fast steps against the plain path
/// (the same loss, gradients and parameters, bit for bit, in Float and Double, SGD and AdamW).
@Suite struct BoWTests {
    /// Words of one position (the empty word), of the most the block allows, and between.
    static let words: [[Int32]] = [[], [3, 1, 2, 4, 1], [4], [2, 2, 3]]

    @Test(arguments: [1, 3, 7])
    func causalBoWIsTheMeanOfTheWordSoFar(width c: Int) {
        var g = SeededGenerator(seed: UInt64(c))
        let batch = WordBatch(words: Self.words, blockSize: 6)
        let x: Tensor<Double> = randomTensor([batch.rows, c], &g), y = Tensor<Double>(shape: [batch.rows, c])
        let scratch = Tensor<Double>(shape: [c])
        CausalBoW.forward(x.pointer, into: y.pointer, width: c, starts: batch.starts, words: 0..<batch.count, scratch: scratch.pointer)
        for w in 0..<batch.count {
            let rows = batch.positions(ofWord: w)
            for r in rows {
                for j in 0..<c {
                    let mean = (rows.lowerBound...r).reduce(0.0) { $0 + x[$1, j] } / Double(r - rows.lowerBound + 1)
                    #expect(abs(y[r, j] - mean) <= 1e-12)
                }
            }
        }
    }

    @Test(arguments: [1, 3, 7])
    func causalBoWBackwardMatchesFiniteDifferences(width c: Int) {
        var g = SeededGenerator(seed: UInt64(10 + c))
        let batch = WordBatch(words: Self.words, blockSize: 6)
        let x: Tensor<Double> = randomTensor([batch.rows, c], &g), y = Tensor<Double>(shape: [batch.rows, c])
        let r: Tensor<Double> = randomTensor([batch.rows, c], &g), scratch = Tensor<Double>(shape: [c])
        func loss() -> Double {
            CausalBoW.forward(x.pointer, into: y.pointer, width: c, starts: batch.starts, words: 0..<batch.count, scratch: scratch.pointer)
            return dot(y, r)
        }
        let dX = Tensor<Double>(shape: [batch.rows, c])
        CausalBoW.backward(dY: r.pointer, dX: dX.pointer, width: c, starts: batch.starts, words: 0..<batch.count, scratch: scratch.pointer)
        expectClose(dX, numericalGradient(of: x, loss), tolerance: 1e-8, "dx")
    }

    @Test func defaultSizesAreMakemores() throws {
        let bow = try BoWConfig(vocabularySize: 27, sizes: ModelSizes(), defaults: .training)
        #expect(bow.embeddingSize == 64 && bow.hiddenSize == 64 && bow.blockSize == 16)
        #expect(bow.parameterCount == 12_827)
        #expect(bow.parameterSpecs.map(\.name) == [
            "wte.weight", "wpe.weight", "context_block.mlp.c_fc.weight", "context_block.mlp.c_fc.bias",
            "context_block.mlp.c_proj.weight", "context_block.mlp.c_proj.bias", "lm_head.weight", "lm_head.bias",
        ])
        let bigram = try BigramConfig(vocabularySize: 27, sizes: ModelSizes(), defaults: .training)
        #expect(bigram.parameterCount == 729 && bigram.parameterSpecs.map(\.name) == ["logits"])
        expectError(containing: "--embed 10", "bigram") {
            _ = try BigramConfig(vocabularySize: 27, sizes: ModelSizes(embed: 10), defaults: .training)
        }
        expectError(containing: "--layers 2", "bow") {
            _ = try BoWConfig(vocabularySize: 27, sizes: ModelSizes(layers: 2), defaults: .training)
        }
        var g = SeededGenerator(seed: 1)
        let table = Bigram<Float>.initialParameters(bigram, generator: &g)
        #expect((0..<table.trainableCount).allSatisfy { table.values.base[$0] == 0 })  // makemore's zeros
    }

    /// Hidden 5: not a multiple of a vector's width.
    @Test(arguments: [(3, 5), (8, 8)])
    func bowGradientCheckPasses(embed: Int, hidden: Int) throws {
        let config = BoWConfig(vocabularySize: 5, embeddingSize: embed, hiddenSize: hidden, blockSize: 6)
        var g = SeededGenerator(seed: 1)
        let parameters = BoW<Double>.initialParameters(config, generator: &g)
        let pass = try BoWPass(parameters: parameters, config: config, batch: WordBatch(words: Self.words, blockSize: 6))
        let rows = GradientCheck().run(pass)
        #expect(rows.count == pass.gradientOrder.count)
        for row in rows { #expect(row.passed, "\(row.name): maxdiff \(row.maxDifference)") }
    }

    /// On a random table (zeros, makemore's start, would hide a backward that ignores the values).
    @Test func bigramGradientCheckPasses() throws {
        let config = BigramConfig(vocabularySize: 5, blockSize: 6)
        var g = SeededGenerator(seed: 2)
        let parameters = ParameterTable<Double>(specs: config.parameterSpecs)
        for i in 0..<parameters.trainableCount { parameters.values.base[i] = g.nextNormal() }
        let pass = try BigramPass(parameters: parameters, config: config, batch: WordBatch(words: Self.words, blockSize: 6))
        let rows = GradientCheck().run(pass)
        #expect(rows.count == 2)
        for row in rows { #expect(row.passed, "\(row.name): maxdiff \(row.maxDifference)") }
    }

    @Test func bigramReadsThePreviousCharacterOnly() {
        let config = BigramConfig(vocabularySize: 5, blockSize: 6)
        var g = SeededGenerator(seed: 3)
        let model = Bigram<Double>(config: config, parameters: ParameterTable(specs: config.parameterSpecs))
        for i in 0..<model.parameters.trainableCount { model.parameters.values.base[i] = g.nextNormal() }
        #expect(model.logits(after: [3, 1, 2]).array == model.table.table.rows(2..<3).array)
        #expect(model.logits(after: []).array == model.table.table.rows(0..<1).array)
    }

    /// `count` words of random lengths `0 ..< blockSize`, the first the shortest and the second the longest.
    static func batch(vocabulary v: Int, blockSize: Int, words count: Int, _ g: inout SeededGenerator) -> WordBatch {
        let words = (0..<count).map { w -> [Int32] in
            let length = w == 0 ? 0 : w == 1 ? blockSize - 1 : g.nextIndex(below: blockSize)
            return (0..<length).map { _ in Int32(1 + g.nextIndex(below: v - 1)) }
        }
        return WordBatch(words: words, blockSize: blockSize)
    }

    /// The fast step (`forwardBackward`) and the plain path, step after step with SGD or AdamW,
    /// on batches that shrink and grow (new buffers): `fast` and `plain` are the two runs.
    func checkFastStep<T: Scalar>(
        _: T.Type, vocabulary v: Int, blockSize: Int, adamW: Bool,
        fast: (WordBatch) -> T, plain: (WordBatch) -> T, fastTable: ParameterTable<T>, plainTable: ParameterTable<T>
    ) {
        var g = SeededGenerator(seed: 9)
        let optimizer = Optimizer.adamW(AdamW())
        let fastState = OptimizerState(for: optimizer, table: fastTable), plainState = OptimizerState(for: optimizer, table: plainTable)
        for (step, words) in [5, 3, 1, 9, 32, 2, 17].enumerated() {
            let batch = Self.batch(vocabulary: v, blockSize: blockSize, words: words, &g)
            let fastLoss = fast(batch), plainLoss = plain(batch)
            for (state, table) in [(fastState, fastTable), (plainState, plainTable)] {
                if adamW { state.update(table, with: optimizer, learningRate: 0.05) } else { SGD.step(table, learningRate: T(0.05)) }
            }
            #expect(fastLoss == plainLoss, "step \(step): loss \(fastLoss) vs \(plainLoss)")
            let count = fastTable.trainableCount
            let differing = (0..<count).filter {
                fastTable.gradients.base[$0] != plainTable.gradients.base[$0] || fastTable.values.base[$0] != plainTable.values.base[$0]
            }
            #expect(differing.isEmpty, "step \(step): \(differing.count) of \(count) gradients or values differ")
        }
    }

    func checkBoW<T: Scalar>(_: T.Type, config: BoWConfig, adamW: Bool) {
        var g = SeededGenerator(seed: 7)
        let fast = BoW<T>(config: config, parameters: BoW<T>.initialParameters(config, generator: &g))
        let plain = BoW<T>(config: config, parameters: fast.parameters.copy())
        checkFastStep(
            T.self, vocabulary: config.vocabularySize, blockSize: config.blockSize, adamW: adamW,
            fast: { fast.fastStep(for: $0).run($0) }, plain: { let loss = plain.forward($0); plain.backward($0); return loss },
            fastTable: fast.parameters, plainTable: plain.parameters)
    }

    func checkBigram<T: Scalar>(_: T.Type, config: BigramConfig, adamW: Bool) {
        let fast = Bigram<T>(config: config, parameters: ParameterTable(specs: config.parameterSpecs))
        let plain = Bigram<T>(config: config, parameters: fast.parameters.copy())
        checkFastStep(
            T.self, vocabulary: config.vocabularySize, blockSize: config.blockSize, adamW: adamW,
            fast: { fast.fastStep(for: $0).run($0) }, plain: { let loss = plain.forward($0); plain.backward($0); return loss },
            fastTable: fast.parameters, plainTable: plain.parameters)
    }

    /// Odd sizes (hidden 5, embed 3), and makemore's (64, 64, block 16, 27 characters).
    @Test(arguments: [false, true])
    func fastStepsEqualThePlainPath(adamW: Bool) {
        for config in [
            BoWConfig(vocabularySize: 7, embeddingSize: 3, hiddenSize: 5, blockSize: 6),
            BoWConfig(vocabularySize: 27, embeddingSize: 64, hiddenSize: 64, blockSize: 16),
        ] {
            checkBoW(Float.self, config: config, adamW: adamW)
            checkBoW(Double.self, config: config, adamW: adamW)
        }
        for config in [BigramConfig(vocabularySize: 7, blockSize: 6), BigramConfig(vocabularySize: 27, blockSize: 16)] {
            checkBigram(Float.self, config: config, adamW: adamW)
            checkBigram(Double.self, config: config, adamW: adamW)
        }
    }
}
