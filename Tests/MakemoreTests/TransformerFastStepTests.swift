import Testing

@testable import Makemore

/// `TransformerFastStep` against the plain path (`forward`, `backward`, `update`, and
/// `OptimizerState.update` for AdamW): the same loss, gradients and parameters, bit for bit, step
/// after step, on one thread and two, in Float (the SIMD kernels) and Double (the plain loops).
@Suite struct TransformerFastStepTests {
    /// Odd sizes: 3 heads of 4 features, one block; and two blocks of 2 heads.
    static let configs = [
        TransformerConfig(vocabularySize: 7, embeddingSize: 12, layers: 1, heads: 3, blockSize: 6),
        TransformerConfig(vocabularySize: 5, embeddingSize: 16, layers: 2, heads: 2, blockSize: 9),
    ]

    /// `count` words of random lengths `0 ..< blockSize` (1 to blockSize positions), the first the
    /// shortest (one position) and the second the longest.
    static func batch(_ config: TransformerConfig, words count: Int, _ g: inout SeededGenerator) -> WordBatch {
        let words = (0..<count).map { w -> [Int32] in
            let length = w == 0 ? 0 : w == 1 ? config.blockSize - 1 : g.nextIndex(below: config.blockSize)
            return (0..<length).map { _ in Int32(1 + g.nextIndex(below: config.vocabularySize - 1)) }
        }
        return WordBatch(words: words, blockSize: config.blockSize)
    }

    func check<T: Scalar>(_: T.Type, config: TransformerConfig, threads: Int, adamW: Bool) {
        var g = SeededGenerator(seed: 7)
        let fast = Transformer<T>(config: config, parameters: Transformer<T>.initialParameters(config, generator: &g))
        let plain = Transformer<T>(config: config, parameters: fast.parameters.copy())
        fast.threads = threads
        let optimizer = Optimizer.adamW(AdamW())
        let fastState = OptimizerState(for: optimizer, table: fast.parameters)
        let plainState = OptimizerState(for: optimizer, table: plain.parameters)
        // Batch sizes that shrink and grow (new buffers), one of a single word (an empty part).
        for (step, words) in [5, 3, 1, 9, 9, 2, 17].enumerated() {
            let batch = Self.batch(config, words: words, &g)
            let learningRate = 0.05
            let fastLoss = adamW
                ? fast.fastStep(for: batch).run(batch, adamW: (AdamW(), fastState, learningRate))
                : fast.fastStep(for: batch).run(batch, learningRate: T(learningRate))
            let plainLoss = plain.forward(batch)
            plain.backward(batch)
            if adamW { plainState.update(plain.parameters, with: optimizer, learningRate: learningRate) }
            else { plain.update(learningRate: T(learningRate)) }
            #expect(fastLoss == plainLoss, "step \(step): loss \(fastLoss) vs \(plainLoss)")
            let table = fast.parameters, count = table.trainableCount
            var gradients = 0, values = 0
            for i in 0..<count {
                if table.gradients.base[i] != plain.parameters.gradients.base[i] { gradients += 1 }
                if table.values.base[i] != plain.parameters.values.base[i] { values += 1 }
            }
            #expect(gradients == 0 && values == 0, "step \(step): \(gradients) gradients and \(values) values of \(count) differ")
            if adamW {
                #expect(fastState.step == plainState.step)
                for i in 0..<count where fastState.secondMoment.base[i] != plainState.secondMoment.base[i] {
                    Issue.record("step \(step): exp_avg_sq[\(i)] differs")
                    break
                }
            }
        }
    }

    @Test(arguments: [0, 1], [1, 2])
    func sgdStepsEqualThePlainPath(config: Int, threads: Int) {
        check(Float.self, config: Self.configs[config], threads: threads, adamW: false)
        check(Double.self, config: Self.configs[config], threads: threads, adamW: false)
    }

    @Test(arguments: [0, 1], [1, 2])
    func adamWStepsEqualThePlainPath(config: Int, threads: Int) {
        check(Float.self, config: Self.configs[config], threads: threads, adamW: true)
        check(Double.self, config: Self.configs[config], threads: threads, adamW: true)
    }

    /// Makemore's sizes (embed 64, 4 heads, 4 blocks) and batch: products large enough for the
    /// packed kernels; one thread and two, AdamW.
    @Test(arguments: [1, 2])
    func defaultSizesEqualThePlainPath(threads: Int) throws {
        let config = TransformerConfig(vocabularySize: 27, blockSize: 16)
        check(Float.self, config: config, threads: threads, adamW: true)
    }

    /// The trainer's entry point under AdamW goes through the fast step (and moves the parameters).
    @Test func trainerEntryPointUsesTheFastStep() {
        let config = Self.configs[0]
        var g = SeededGenerator(seed: 3)
        let model = Transformer<Float>(config: config, parameters: Transformer<Float>.initialParameters(config, generator: &g))
        let before = model.parameters.values.base[0]
        let optimizer = Optimizer.adamW(AdamW())
        let state = OptimizerState(for: optimizer, table: model.parameters)
        let loss = model.trainingStep(Self.batch(config, words: 4, &g), optimizer: optimizer, state: state, learningRate: 0.01)
        #expect(loss.isFinite && state.step == 1 && model.parameters.values.base[0] != before)
        #expect(model.matmulFlops(batchSize: 4) > 0)
    }
}
