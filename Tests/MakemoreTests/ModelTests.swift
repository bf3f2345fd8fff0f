import Testing

@testable import Makemore

@Suite struct ModelTests {
    static let small = MLPConfig(vocabularySize: 6, embeddingSize: 3, hiddenSize: 5, blockSize: 2, hiddenLayers: 2)

    /// A random batch of `n` examples for `config`.
    static func batch(_ config: MLPConfig, _ n: Int, _ g: inout SeededGenerator) -> (contexts: [Int32], targets: [Int32]) {
        let contexts = (0..<n * config.blockSize).map { _ in Int32(g.nextIndex(below: config.vocabularySize)) }
        let targets = (0..<n).map { _ in Int32(g.nextIndex(below: config.vocabularySize)) }
        return (contexts, targets)
    }

    /// A step-by-step pass of `small` on a random batch of `n` examples, all drawn from `seed`.
    static func pass(seed: UInt64, batchSize n: Int) throws -> StepByStep<Double> {
        var g = SeededGenerator(seed: seed)
        let parameters = MLP<Double>.initialParameters(small, generator: &g)
        let (contexts, targets) = batch(small, n, &g)
        return try StepByStep(parameters: parameters, config: small, batch: Batch(contexts: contexts, targets: targets))
    }

    @Test func defaultConfigurationHasTheLecturesParameterCount() {
        #expect(MLPConfig(vocabularySize: 27).parameterCount == 4137)
        #expect(MLPConfig(vocabularySize: 27, hiddenSize: 200).parameterCount == 12297)
    }

    @Test func parameterNamesFollowTheConvention() {
        let names = MLPConfig(vocabularySize: 5, hiddenLayers: 2).parameterSpecs.map(\.name)
        #expect(names == ["C", "W1", "b1", "bngain1", "bnbias1", "W2", "b2", "bngain2", "bnbias2", "W3", "b3",
                          "bnmean1", "bnvar1", "bnmean2", "bnvar2"])
    }

    @Test func initialValuesAreSeededAndNonTrivial() {
        var g1 = SeededGenerator(seed: 3), g2 = SeededGenerator(seed: 3), g3 = SeededGenerator(seed: 4)
        let a = MLP<Float>.initialParameters(Self.small, generator: &g1)
        let b = MLP<Float>.initialParameters(Self.small, generator: &g2)
        let c = MLP<Float>.initialParameters(Self.small, generator: &g3)
        #expect(a["W1"].array == b["W1"].array)
        #expect(a["W1"].array != c["W1"].array)
        #expect(a["b1"].array.allSatisfy { $0 != 0 })
        #expect(a["bngain1"].array.allSatisfy { $0 != 1 && Swift.abs($0 - 1) < 0.6 })
        #expect(a["bnmean1"].array.allSatisfy { $0 == 0 } && a["bnvar1"].array.allSatisfy { $0 == 1 })
    }

    /// The step-by-step loss chain and the fused cross-entropy give the same loss.
    @Test(arguments: [2, 3, 8])
    func lossChainMatchesFusedLoss(batchSize n: Int) throws {
        let config = Self.small
        let pass = try Self.pass(seed: UInt64(n), batchSize: n)
        let targets = pass.targets
        let probs = Tensor<Double>(shape: [n, config.vocabularySize])
        let fused = CrossEntropy.forward(logits: pass.values["logits"]!, targets: targets, probs: probs)
        #expect(Swift.abs(fused - pass.loss) < 1e-12)
        expectClose(probs, pass.values["probs"]!, tolerance: 1e-12, "probs")
    }

    /// The training model (fused backward, reused buffers) gives the step-by-step loss and the
    /// step-by-step gradient of every parameter: with one feature block (5 features) and two
    /// (70 features: 32 + 38), on one thread and on two.
    @Test(arguments: [(1, 5, 1), (3, 5, 1), (1, 70, 1), (3, 70, 1), (1, 70, 2), (3, 70, 2)])
    func fusedModelMatchesStepByStep(layers: Int, hidden: Int, threads: Int) throws {
        var config = Self.small
        config.hiddenLayers = layers
        config.hiddenSize = hidden
        var g = SeededGenerator(seed: 11)
        let model = MLP<Double>(config: config, generator: &g)
        model.threads = threads
        let (contexts, targets) = Self.batch(config, 7, &g)
        let pass = try StepByStep(parameters: model.parameters.copy(), config: config, batch: Batch(contexts: contexts, targets: targets))
        let stepGradients = pass.backward()
        let loss = model.forwardBackward(contexts: contexts, targets: targets, count: 7)
        #expect(Swift.abs(loss - pass.loss) < 1e-12)
        for spec in config.parameterSpecs where spec.isTrainable {
            expectClose(model.parameters.gradient(spec.name), stepGradients[spec.name]!, tolerance: 1e-12, spec.name)
        }
        // The running statistics moved towards the batch's by `momentum`.
        let mean = pass.values["bnmeani1"]!
        for j in 0..<config.hiddenSize {
            #expect(Swift.abs(model.parameters["bnmean1"][j] - config.momentum * mean[j]) < 1e-12)
        }
    }

    /// The typed parameters are the table's tensors of the same names, values and gradients.
    @Test func typedParametersViewTheNamedTensors() {
        let config = MLPConfig(vocabularySize: 6, embeddingSize: 3, hiddenSize: 5, blockSize: 2, hiddenLayers: 2)
        var g = SeededGenerator(seed: 1)
        let model = MLP<Float>(config: config, generator: &g)
        func same(_ view: Tensor<Float>, _ name: String, _ storage: TensorStorage<Float>) {
            let entry = model.parameters.entry(name)!
            #expect(view.storage === storage && view.offset == entry.offset && view.shape == entry.shape, "\(name)")
        }
        for (p, storage) in [(model.p, model.parameters.values), (model.dp, model.parameters.gradients)] {
            same(p.C, "C", storage)
            for (i, layer) in p.hidden.enumerated() {
                same(layer.W, "W\(i + 1)", storage)
                same(layer.b, "b\(i + 1)", storage)
                same(layer.gain, "bngain\(i + 1)", storage)
                same(layer.bias, "bnbias\(i + 1)", storage)
                same(layer.runningMean, "bnmean\(i + 1)", storage)
                same(layer.runningVariance, "bnvar\(i + 1)", storage)
            }
            same(p.W, "W3", storage)
            same(p.b, "b3", storage)
        }
    }

    /// The fast path (`MLPFastStep`: feature slices, two threads, the update folded into the
    /// backward) trains like the plain `forward`, `backward`, `update`: 20 steps from the same
    /// values on the same batches. The two add the products over the hidden features in another
    /// order (per feature slice, then the slices), so they agree to rounding: in Double to 1e-12
    /// of each value's size, which is a few hundred ulps of the 20 steps' accumulated rounding and
    /// a millionth of the size of any wrong gradient's effect.
    @Test(arguments: [(1, 5, 1), (3, 5, 1), (1, 70, 1), (3, 70, 2), (1, 200, 2), (2, 100, 2)])
    func fastPathEqualsPlainPath(layers: Int, hidden: Int, threads: Int) throws {
        var config = Self.small
        config.hiddenLayers = layers
        config.hiddenSize = hidden
        var g = SeededGenerator(seed: 12)
        let fast = MLP<Double>(config: config, generator: &g)
        let plain = MLP<Double>(config: config, parameters: fast.parameters.copy())
        fast.threads = threads
        var worst = 0.0
        for step in 0..<20 {
            let (contexts, targets) = Self.batch(config, 9, &g)
            let fastLoss = fast.trainingStep(contexts: contexts, targets: targets, count: 9, learningRate: 0.1)
            let plainLoss = plain.forward(contexts: contexts, targets: targets, count: 9)
            plain.backward(contexts: contexts, targets: targets)
            plain.update(learningRate: 0.1)
            #expect(Swift.abs(fastLoss - plainLoss) <= 1e-12, "step \(step): loss \(fastLoss) vs \(plainLoss)")
            for i in 0..<fast.parameters.values.count {
                let a = fast.parameters.values.base[i], b = plain.parameters.values.base[i]
                worst = Swift.max(worst, Swift.abs(a - b) / Swift.max(1, Swift.abs(b)))
            }
        }
        #expect(worst <= 1e-12, "largest relative difference \(worst)")
    }

    @Test func gradientCheckPassesOnEveryTensor() throws {
        let config = Self.small
        let pass = try Self.pass(seed: 5, batchSize: 4)
        let rows = GradientCheck().run(pass)
        let modelRows = ["logits", "hprebn2", "hprebn1"] + config.parameterSpecs.filter(\.isTrainable).map(\.name)
        #expect(rows.map(\.name) == StepByStep<Double>.gradientOrder(config) + modelRows)
        for row in rows { #expect(row.passed, "\(row.name): \(row.maxDifference) > \(row.tolerance)") }
    }

    /// The check can fail: the finite differences disagree with a gradient computed with the
    /// seed's bug (batch-norm mean over the features instead of the batch).
    @Test func gradientCheckCatchesAWrongGradient() throws {
        let config = Self.small
        let pass = try Self.pass(seed: 6, batchSize: 4)
        let correct = pass.backward()["bnvar1"]!
        let wrong = (Double(4 - 1) / Double(config.hiddenSize - 1)) * correct  // 1/(dim-1) in place of 1/(n-1)
        let reference = GradientCheck().finiteDifferences(pass, "bnvar1")
        #expect(correct.maxAbsDifference(reference) < 1e-8)
        #expect(wrong.maxAbsDifference(reference) > 1e-4)
    }

    @Test func batchOfOneIsAnError() {
        var g = SeededGenerator(seed: 1)
        let parameters = MLP<Double>.initialParameters(Self.small, generator: &g)
        expectError(containing: "at least 2") {
            _ = try StepByStep(parameters: parameters, config: Self.small, batch: Batch(contexts: [1, 2], targets: [3]))
        }
    }

    @Test func evaluationLossAndCalibrationUseTheWholeSet() throws {
        let words = try WordList(text: "anna\nbob\ncyd\nada\nemma\nava\nolivia\nsophia\nisabella\nmia\n")
        let splits = try Splits(words: words, blockSize: 2)
        var config = Self.small
        config.vocabularySize = splits.vocabulary.count
        var g = SeededGenerator(seed: 2)
        let model = MLP<Double>(config: config, generator: &g)
        model.calibrateBatchNorm(on: splits.train)
        // After calibration the first block's running mean is the mean of its pre-activations.
        let dataset = splits.train
        let pass = try StepByStep(parameters: model.parameters, config: config, batch: Batch(contexts: dataset.contexts, targets: dataset.targets))
        expectClose(model.parameters["bnmean1"], pass.values["bnmeani1"]!, tolerance: 1e-10, "bnmean1")
        expectClose(model.parameters["bnvar1"], pass.values["bnvar1"]!, tolerance: 1e-10, "bnvar1")
        // Chunked evaluation equals one pass over everything.
        #expect(Swift.abs(model.loss(on: dataset, chunk: 3) - model.loss(on: dataset, chunk: 10_000)) < 1e-12)
    }
}
