import Foundation
import Testing

@testable import Makemore

@Suite struct OptimizerTests {
    /// Two trainable tensors of odd sizes (padding between them) and running statistics.
    static let specs = [
        ParameterSpec(name: "W", shape: [3, 5]), ParameterSpec(name: "b", shape: [7]),
        ParameterSpec(name: "mean", shape: [4], isTrainable: false),
    ]

    /// AdamW's update, written out per element in Double from PyTorch's documented algorithm
    /// (no fused multiply-adds, no Float roundings): the reference for `AdamW.update`.
    struct ScalarAdamW {
        var beta1 = 0.9, beta2 = 0.99, eps = 1e-8, weightDecay = 0.01
        var m: [Double], v: [Double], t = 0

        init(count: Int) {
            m = Array(repeating: 0, count: count)
            v = Array(repeating: 0, count: count)
        }

        mutating func step(_ p: inout [Double], _ g: [Double], lr: Double) {
            t += 1
            for i in p.indices {
                p[i] *= 1 - lr * weightDecay
                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                let mHat = m[i] / (1 - pow(beta1, Double(t)))
                let vHat = v[i] / (1 - pow(beta2, Double(t)))
                p[i] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
    }

    /// Eight steps with changing gradients (some tiny, some zero) and learning rates: every
    /// trainable element as the scalar formula in Double gives it, to Float rounding for Float and
    /// to 1e-12 for Double; the running statistics and the padding untouched.
    @Test(arguments: [false, true])
    func adamWFollowsTheFormulaComputedInDouble(inDouble: Bool) {
        if inDouble { check(Double.self, tolerance: 1e-12) } else { check(Float.self, tolerance: 2e-6) }
    }

    private func check<T: Scalar>(_: T.Type, tolerance: Double, sourceLocation: SourceLocation = #_sourceLocation) {
        let table = ParameterTable<T>(specs: Self.specs)
        var g = SeededGenerator(seed: 3)
        for entry in table.entries { for i in 0..<entry.count { table[entry.name][i] = T(g.nextNormal()) } }
        let running = table["mean"].array
        let trainable = table.entries.filter(\.spec.isTrainable)
        var p = trainable.flatMap { table[$0.name].array.map(Double.init) }
        var reference = ScalarAdamW(count: p.count)
        let state = OptimizerState(for: .adamW(AdamW()), table: table)
        for step in 1...8 {
            let scale = step == 3 ? 1e-9 : 1.0  // gradients near eps
            var gradients: [Double] = []
            for entry in trainable {
                let gradient = table.gradient(entry.name)
                for i in 0..<entry.count {
                    gradient[i] = i % 5 == 4 ? 0 : T(scale * g.nextNormal())
                    gradients.append(Double(gradient[i]))
                }
            }
            let lr = step < 5 ? 1e-2 : 3e-3
            state.update(table, with: .adamW(AdamW()), learningRate: lr)
            reference.step(&p, gradients, lr: lr)
            let ours = trainable.flatMap { table[$0.name].array.map(Double.init) }
            let worst = zip(ours, p).map { Swift.abs($0 - $1) / Swift.max(1, Swift.abs($1)) }.max()!
            #expect(worst <= tolerance, "step \(step): \(worst)", sourceLocation: sourceLocation)
        }
        #expect(state.step == 8)
        #expect(table["mean"].array == running, "running statistics are not trainable", sourceLocation: sourceLocation)
        let padding = table.entries[1].offset - table.entries[0].count
        #expect(padding > 0 && (table.entries[0].count..<table.entries[1].offset).allSatisfy { table.values.base[$0] == 0 })
    }

    static func batch(vocabularySize: Int, blockSize: Int, _ n: Int, _ g: inout SeededGenerator) -> Batch {
        Batch(
            contexts: (0..<n * blockSize).map { _ in Int32(g.nextIndex(below: vocabularySize)) },
            targets: (0..<n).map { _ in Int32(g.nextIndex(below: vocabularySize)) })
    }

    /// With AdamW the WaveNet's fast forward and backward, then the update (the trainer's
    /// `trainingStep(_:optimizer:state:learningRate:)`), train like the plain `forward`, `backward`
    /// and AdamW: 10 steps from the same values on the same batches, on one thread and two, every
    /// parameter equal bit for bit.
    @Test(arguments: [1, 2])
    func theWaveNetFastStepWithAdamWEqualsThePlainPath(threads: Int) throws {
        var g = SeededGenerator(seed: 8)
        let fast = try WaveNet<Float>.make(
            vocabularySize: 27, sizes: ModelSizes(embed: 5, hidden: 70, block: 4), defaults: .training, generator: &g)
        let plain = WaveNet<Float>(config: fast.config, parameters: fast.parameters.copy())
        fast.threads = threads
        let optimizer = Optimizer.adamW(AdamW(weightDecay: 0.1))
        let fastState = OptimizerState(for: optimizer, table: fast.parameters)
        let plainState = OptimizerState(for: optimizer, table: plain.parameters)
        for step in 0..<10 {
            let batch = Self.batch(vocabularySize: 27, blockSize: fast.config.blockSize, 9, &g)
            let fastLoss = fast.trainingStep(batch, optimizer: optimizer, state: fastState, learningRate: 1e-2)
            let plainLoss = plain.forward(batch)
            plain.backward(batch)
            plainState.update(plain.parameters, with: optimizer, learningRate: 1e-2)
            #expect(fastLoss == plainLoss, "step \(step)")
        }
        let a = fast.parameters.values, b = plain.parameters.values
        #expect((0..<a.count).allSatisfy { a.base[$0] == b.base[$0] }, "parameters differ")
        #expect(fastState.step == 10)
    }

    /// The MLP's fast forward and backward (`forwardBackward`, what its `trainingStep` with AdamW
    /// runs) then AdamW, against the plain path: its fast path adds over the hidden features in
    /// another order, so the two agree to rounding (see `ModelTests.fastPathEqualsPlainPath`), in
    /// Double. The tolerance is looser than SGD's 1e-12: AdamW divides each gradient by its own
    /// size, and the gradient of a bias before a batch norm is rounding alone (about 1e-17), which
    /// AdamW turns into steps of about lr·g/eps, 1e-11.
    @Test(arguments: [(1, 70, 1), (3, 70, 2), (2, 100, 2)])
    func theMLPFastPathWithAdamWEqualsThePlainPath(layers: Int, hidden: Int, threads: Int) throws {
        let config = MLPConfig(vocabularySize: 27, embeddingSize: 5, hiddenSize: hidden, blockSize: 3, hiddenLayers: layers)
        var g = SeededGenerator(seed: 12)
        let fast = MLP<Double>(config: config, generator: &g)
        let plain = MLP<Double>(config: config, parameters: fast.parameters.copy())
        fast.threads = threads
        let optimizer = Optimizer.adamW(AdamW(weightDecay: 0.1))
        let fastState = OptimizerState(for: optimizer, table: fast.parameters)
        let plainState = OptimizerState(for: optimizer, table: plain.parameters)
        var worst = 0.0
        for step in 0..<10 {
            let batch = Self.batch(vocabularySize: 27, blockSize: 3, 9, &g)
            let fastLoss = batch.withPointers { fast.forwardBackward(contexts: $0, targets: $1, count: 9) }
            fastState.update(fast.parameters, with: optimizer, learningRate: 1e-2)
            let plainLoss = batch.withPointers { plain.forward(contexts: $0, targets: $1, count: 9) }
            batch.withPointers { plain.backward(contexts: $0, targets: $1) }
            plainState.update(plain.parameters, with: optimizer, learningRate: 1e-2)
            #expect(Swift.abs(fastLoss - plainLoss) <= 1e-12, "step \(step)")
            for i in 0..<fast.parameters.values.count {
                let a = fast.parameters.values.base[i], b = plain.parameters.values.base[i]
                worst = Swift.max(worst, Swift.abs(a - b) / Swift.max(1, Swift.abs(b)))
            }
        }
        #expect(worst <= 1e-9, "largest relative difference \(worst)")
    }

    /// A fresh state has no moments for SGD; an SGD state does not serve AdamW.
    @Test func anSGDStateHoldsNothing() {
        let table = ParameterTable<Float>(specs: Self.specs)
        let sgd = OptimizerState(for: .sgd, table: table)
        #expect(sgd.firstMoment.count == 0 && sgd.fits(.sgd, table: table) && !sgd.fits(.adamW(AdamW()), table: table))
        #expect(OptimizerState(for: .adamW(AdamW()), table: table).firstMoment.count == table.trainableCount)
    }

    @Test func adamWOptionsOutOfRangeAreErrors() {
        var options = TrainingOptions()
        options.optimizer = .adamW(AdamW(beta1: 1))
        expectError(containing: "--betas", "first") { try options.validate() }
        options.optimizer = .adamW(AdamW(beta2: -0.5))
        expectError(containing: "--betas", "second") { try options.validate() }
        options.optimizer = .adamW(AdamW(weightDecay: -1))
        expectError(containing: "--weight-decay") { try options.validate() }
        options.optimizer = .adamW(AdamW(epsilon: .nan))
        expectError(containing: "--adam-eps") { try options.validate() }
    }

    // MARK: Checkpoints

    static func options(steps: Int, optimizer: Optimizer = .adamW(AdamW())) -> TrainingOptions {
        var options = TrainingTests.options(steps: steps)
        options.optimizer = optimizer
        options.learningRate = 3e-3
        return options
    }

    /// With AdamW, 25 steps, saved, loaded and resumed to 50: the same weights, moments, step
    /// count, log and best dev loss, bit for bit, as 50 steps in one go; for every model, on one
    /// thread and two. The moments are in the file under their own names.
    @Test(arguments: TrainingTests.models, [1, 2])
    func aResumedAdamWRunEndsBitForBitLikeAnUninterruptedOne(model: (name: String, sizes: ModelSizes), threads: Int) throws {
        let splits = model.sizes.block == 3
            ? TrainingTests.splits : try Splits(words: WordList(words: TrainingTests.splits.shuffledWords), blockSize: model.sizes.block!)
        func trainer() throws -> Trainer {
            try Trainer(model: try Models.named(model.name), sizes: model.sizes, options: Self.options(steps: 50), splits: splits, dataPath: nil)
        }
        let whole = try trainer()
        try whole.train()

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try RunDirectory(path: directory.path)
        let first = try trainer()
        first.model.threads = threads
        var stepsTaken = 0
        #expect(try first.train(shouldStop: { stepsTaken == 25 }, observe: { if case .step = $0 { stepsTaken += 1 } }) == .stopped)
        try run.save(first.checkpoint(), log: first.log)

        let file = try SafeTensors(contentsOf: run.model)
        #expect(file.metadata["optimizer"] == "adamw" && file.metadata["optimizer_step"] == "25")
        for entry in first.model.parameters.entries where entry.spec.isTrainable {  // C, W1, ...; wte.weight, ...
            #expect(file.names.contains("optimizer.exp_avg.\(entry.name)") && file.names.contains("optimizer.exp_avg_sq.\(entry.name)"), "\(entry.name)")
        }
        let checkpoint = try Checkpoint(contentsOf: run.model)
        #expect(checkpoint.options == Self.options(steps: 50))
        #expect(checkpoint.best == first.best && checkpoint.best != nil)
        let resumed = try Trainer(resuming: checkpoint, options: checkpoint.options, splits: splits, log: try run.readLog())
        resumed.model.threads = threads
        #expect(try resumed.train() == .finished)
        let a = resumed.model.parameters.values, b = whole.model.parameters.values
        #expect((0..<a.count).allSatisfy { a.base[$0] == b.base[$0] }, "parameters differ")
        let (m, wm) = (resumed.optimizerState, whole.optimizerState)
        #expect((0..<m.firstMoment.count).allSatisfy { m.firstMoment.base[$0] == wm.firstMoment.base[$0] && m.secondMoment.base[$0] == wm.secondMoment.base[$0] })
        #expect(m.step == 50 && wm.step == 50)
        #expect(resumed.log == whole.log)
        #expect(resumed.best == whole.best)
    }

    /// A checkpoint written before optimizers were saved (the fixture) is an SGD run's, without
    /// state; resuming it with AdamW starts AdamW's moments at zero.
    @Test func aCheckpointWithoutOptimizerStateIsSGDs() throws {
        let checkpoint = try Checkpoint(contentsOf: CompatibilityTests.directory.appendingPathComponent("model.safetensors"))
        #expect(checkpoint.options.optimizer == .sgd && checkpoint.optimizerState == nil && checkpoint.best == nil)
        var options = checkpoint.options
        options.optimizer = .adamW(AdamW())
        options.steps = checkpoint.step + 2
        let splits = try Splits(words: WordList.bundledNames(), blockSize: checkpoint.model.config.blockSize, vocabulary: checkpoint.vocabulary)
        let trainer = try Trainer(resuming: checkpoint, options: options, splits: splits, log: TrainingLog())
        trainer.evaluatesDevLoss = false
        try trainer.train()
        #expect(trainer.optimizerState.step == 2)
    }

    /// `best.safetensors` is written at an evaluation exactly when its dev loss is below every
    /// earlier one (makemore's rule), and holds that step's checkpoint; the model file is the last.
    @Test func theBestCheckpointIsWrittenWhenTheDevLossImprovesOnly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try RunDirectory(path: directory.path)
        var options = TrainingTests.options(steps: 120)
        options.evaluationInterval = 5
        options.learningRate = 0.5  // noisy: the dev loss goes up as well as down
        let trainer = try Trainer(MLP<Float>.self, config: TrainingTests.config, options: options, splits: TrainingTests.splits, dataPath: nil)
        var lowest = Double.infinity
        var (improved, worse) = (0, 0)
        try trainer.train(observe: { event in
            guard case .evaluation(let step, let devLoss) = event else { return }
            let before = try? Data(contentsOf: run.best)
            let isBest = trainer.best?.step == step
            #expect(isBest == (devLoss < lowest), "step \(step)")
            if isBest { (lowest, improved) = (devLoss, improved + 1) } else { worse += 1 }
            try run.save(trainer.checkpoint(), log: trainer.log, isBest: isBest)
            let after = try? Data(contentsOf: run.best)
            if isBest {
                #expect(after == (try Data(contentsOf: run.model)), "step \(step): best.safetensors is this step's checkpoint")
            } else {
                #expect(after == before, "step \(step): best.safetensors was rewritten without an improvement")
            }
        })
        #expect(improved > 1 && worse > 1, "the run should both improve and worsen: \(improved) improvements, \(worse) not")
        let best = try Checkpoint(contentsOf: run.best)
        #expect(best.step == trainer.best!.step && best.best == trainer.best)
        #expect(Swift.abs(best.model.loss(on: TrainingTests.splits.dev) - lowest) == 0)
    }
}
