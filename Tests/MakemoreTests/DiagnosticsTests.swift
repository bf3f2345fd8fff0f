import Foundation
import Testing

@testable import Makemore

@Suite struct DiagnosticsTests {
    static let words = try! WordList(words: Array(WordList.bundledNames().words.prefix(2000)))

    /// Small sizes of every model.
    /// Every model, small: the trainer's tests' list.
    static let models = TrainingTests.models

    static func options(steps: Int, learningRate: Double = 0.1, optimizer: Optimizer = .sgd) -> TrainingOptions {
        var options = TrainingOptions()
        options.steps = steps
        options.batchSize = 8
        options.learningRate = learningRate
        options.optimizer = optimizer
        options.evaluationInterval = 10
        options.seed = 5
        return options
    }

    static func trainer(_ model: (String, ModelSizes), options: TrainingOptions) throws -> Trainer {
        let splits = try Splits(words: words, blockSize: model.1.block!)
        return try Trainer(model: try Models.named(model.0), sizes: model.1, options: options, splits: splits, dataPath: nil)
    }

    // MARK: The statistics against direct computations

    @Test(arguments: [0, 1, 2, 3, 5, 10, 1000])
    func histogramCountsAddUpToTheTensorSize(count: Int) {
        var generator = SeededGenerator(seed: UInt64(count))
        let t: Tensor<Float> = randomTensor([count], &generator)
        if count > 3 {
            t[1] = .nan
            t[2] = .infinity
        }
        for bins in [1, 7, 50] {
            let h = Histogram(UnsafeBufferPointer(start: t.pointer, count: t.count), bins: bins)
            #expect(h.total == count, "bins \(bins)")
            #expect(h.counts.count == bins)
            #expect(h.nonFinite == (count > 3 ? 2 : 0))
        }
        let constant = Tensor<Float>(shape: [count], repeating: 0.25)
        let h = Histogram(UnsafeBufferPointer(start: constant.pointer, count: count), bins: 4)
        #expect(h.total == count && h.counts.reduce(0, +) == count)
    }

    @Test func histogramBinsAreWhereTheValuesAre() {
        var h = Histogram(bins: 4, lower: 0, upper: 1)
        for v in [0, 0.1, 0.25, 0.5, 0.99, 1, -5, 7] { h.add(v) }
        #expect(h.counts == [3, 1, 1, 3])
        #expect(h.edges == [0, 0.25, 0.5, 0.75, 1])
    }

    @Test func momentsAgreeWithADirectComputation() {
        var generator = SeededGenerator(seed: 3)
        let t: Tensor<Float> = randomTensor([37, 11], &generator, scale: 2, shift: 0.5)
        let values = t.array.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
        let m = Moments(t)
        #expect(m.count == 37 * 11)
        #expect(abs(m.mean - mean) < 1e-12)
        #expect(abs(m.std - variance.squareRoot()) < 1e-12)
        #expect(m.min == values.min()! && m.max == values.max()!)
        #expect(abs(m.sumOfSquares - values.map { $0 * $0 }.reduce(0, +)) < 1e-9)
    }

    @Test func saturatedShareAndDeadUnitsAgreeWithADirectCount() {
        // 6 rows, 4 units: unit 0 saturated in every row (dead), unit 1 in half, others never.
        let output = Tensor<Float>(shape: [6, 4])
        for i in 0..<6 {
            output[i, 0] = i % 2 == 0 ? 0.995 : -0.999
            output[i, 1] = i < 3 ? 0.98 : 0.1
            output[i, 2] = -0.5
            output[i, 3] = 0.96
        }
        let stats = NonlinearityStatistics(
            NonlinearityOutput(name: "tanh", kind: .tanh, output: output, gradient: Tensor(shape: [6, 4])))
        #expect(stats.saturatedShare == 9.0 / 24.0)
        #expect(stats.deadUnits == 1 && stats.units == 4)
        #expect(stats.output.histogram.total == 24 && stats.gradient.histogram.total == 24)
        let gates = NonlinearityStatistics(
            NonlinearityOutput(name: "gate", kind: .sigmoid, output: Tensor(shape: [2, 2], values: [0.01, 0.5, 0.99, 0.02]),
                               gradient: Tensor(shape: [2, 2])))
        #expect(gates.saturatedShare == 0.75)
        let gelu = NonlinearityStatistics(
            NonlinearityOutput(name: "gelu", kind: .gelu, output: Tensor(shape: [2, 2], values: [0.001, 3, -0.005, 2]),
                               gradient: Tensor(shape: [2, 2])))
        #expect(gelu.saturatedShare == 0 && gelu.deadUnits == 1)
    }

    @Test func batchNormStatisticsAreTheColumnsMeanAndVariance() {
        let input = Tensor<Float>(shape: [3, 2], values: [1, 10, 2, 20, 6, 30])
        let stats = BatchNormStatistics(
            name: "bn", input: input, runningMean: Tensor(shape: [1, 2], values: [0, 1]),
            runningVariance: Tensor(shape: [1, 2], values: [1, 2]))
        #expect(stats.batchMean == [3, 20])
        #expect(stats.batchVariance == [7, 100])
        #expect(stats.runningMean == [0, 1] && stats.runningVariance == [1, 2])
    }

    // MARK: Every model

    /// Every model's snapshot: the histograms hold every value; the saturated share, the ratios and
    /// batch-norm's statistics agree with direct computations on the model's own tensors; SGD's
    /// update ratio is `log10(std(lr · grad) / std(data))`.
    @Test(arguments: models)
    func snapshotsOfEveryModelAgreeWithDirectComputations(model: (String, ModelSizes)) throws {
        let trainer = try Self.trainer(model, options: Self.options(steps: 3))
        trainer.diagnostics = Diagnostics(interval: 2)
        let copy = trainer.model.independentCopy()  // the initial values
        let before = copy.parameters.copy()
        try trainer.train()
        let snapshots = trainer.diagnostics!.snapshots
        #expect(snapshots.map(\.step) == [1, 2, 3])
        let first = snapshots[0]
        #expect(first.nonlinearities.isEmpty == (model.0 == "bigram"))
        #expect(first.batchNorms.isEmpty == !["mlp", "wavenet"].contains(model.0))
        #expect(!first.weights.isEmpty)

        // Step 1 again, by hand: the same batch and the initial values.
        var generator = SeededGenerator(seed: 5)
        _ = try Models.named(model.0).make(
            vocabularySize: trainer.splits.vocabulary.count, sizes: model.1, defaults: .training, generator: &generator)
        var batch = trainer.model.makeBatch(count: 8)
        batch.refill(from: trainer.splits.train, using: &generator)
        let loss = copy.plainForwardBackward(on: batch)
        #expect(loss == first.loss)
        for (stats, n) in zip(first.nonlinearities, copy.nonlinearities) {
            #expect(stats.output.histogram.total == n.output.count && stats.gradient.histogram.total == n.gradient.count)
            let saturated = n.output.array.filter { n.kind.isSaturated($0) }.count
            #expect(stats.saturatedShare == Double(saturated) / Double(n.output.count), "\(stats.name)")
            #expect(abs(stats.output.moments.std - directStd(n.output.array)) < 1e-9 * max(1, directStd(n.output.array)))
            #expect(abs(stats.gradient.moments.std - directStd(n.gradient.array)) <= 1e-9 * directStd(n.gradient.array))
        }
        #expect(first.batchNorms.count == copy.batchNormInputs.count)
        for (stats, layer) in zip(first.batchNorms, copy.batchNormInputs) {
            let running = Tensor<Float>(shape: layer.runningMean.shape, storage: before.values, offset: layer.runningMean.offset)
            #expect(stats.runningMean == running.array.map(Double.init), "running statistics before the step")
            #expect(stats.batchMean.count == layer.input.columns)
        }
        for weight in first.weights {
            let values = before[weight.name].array, gradient = copy.parameters.gradient(weight.name).array
            #expect(weight.gradient.histogram.total == values.count)
            let ratio = directStd(gradient) / directStd(values)
            guard ratio.isFinite else {  // the bigram's table starts at zero: no ratio to the values
                #expect(!weight.gradientToData.isFinite && !weight.updateToData!.isFinite)
                continue
            }
            #expect(abs(weight.gradientToData - ratio) <= 1e-9 * ratio, "\(weight.name) grad:data")
            // SGD: the update is lr · grad (up to the rounding of p - lr · g in Float).
            let expected = log10(0.1 * directStd(gradient) / directStd(values))
            #expect(abs(weight.updateToData! - expected) < 1e-3, "\(weight.name) update:data \(weight.updateToData!) vs \(expected)")
        }
    }

    /// Diagnostics leave the run as it was: the same parameters, optimizer state and log, bit for
    /// bit, with and without them (SGD and AdamW, one thread and two).
    @Test(arguments: models, [Optimizer.sgd, .adamW(AdamW())])
    func diagnosticsDoNotChangeTheRun(model: (String, ModelSizes), optimizer: Optimizer) throws {
        let options = Self.options(steps: 12, learningRate: optimizer == .sgd ? 0.1 : 1e-3, optimizer: optimizer)
        let plain = try Self.trainer(model, options: options)
        let inspected = try Self.trainer(model, options: options)
        plain.model.threads = 2
        inspected.model.threads = 2
        inspected.diagnostics = Diagnostics(interval: 5)
        try plain.train()
        try inspected.train()
        #expect(inspected.diagnostics!.snapshots.map(\.step) == [1, 5, 10, 12])
        #expect(plain.log == inspected.log)
        let a = plain.model.parameters, b = inspected.model.parameters
        #expect((0..<a.values.count).allSatisfy { a.values.base[$0].bitPattern == b.values.base[$0].bitPattern })
    }

    /// The GRU's gate gradients are rebuilt from what its backward keeps; times each gate's local
    /// derivative they are the gradients before the gates that the backward computed itself.
    @Test func theGRUsGateGradientsAgreeWithItsBackward() throws {
        let trainer = try Self.trainer(Self.models[6], options: Self.options(steps: 1))
        let model = trainer.model as! GRU<Float>
        var generator = SeededGenerator(seed: 11)
        var batch = WordBatch(count: 8, blockSize: model.config.blockSize)
        batch.refill(from: trainer.splits.train, using: &generator)
        _ = model.forward(batch)
        model.backward(batch)
        let gates = model.nonlinearities, scratch = model.dActivations!.scratch, rows = model.activations!.steps.rows
        #expect(gates.map(\.name) == ["gate r", "gate z", "hbar tanh"])
        let (r, z, hbar) = (gates[0], gates[1], gates[2])
        #expect(r.output.count == rows * 12)
        var worst: Float = 0
        for k in 0..<r.output.count {
            let dHbarPre = hbar.gradient[k] * (1 - hbar.output[k] * hbar.output[k])
            let dZPre = z.gradient[k] * z.output[k] * (1 - z.output[k])
            let dRPre = r.gradient[k] * r.output[k] * (1 - r.output[k])
            worst = max(worst, abs(dHbarPre - scratch[0][k]), abs(dZPre - scratch[1][k]), abs(dRPre - scratch[2][k]))
        }
        #expect(worst < 1e-6, "largest difference \(worst)")
        #expect(scratch[0].array.prefix(rows * 12).contains { $0 != 0 })
    }

    /// A checkpoint's snapshot (`makemore diagnose`) leaves the model as it was; with SGD its
    /// update ratio is the lecture's `log10(std(lr · grad) / std(data))`, with AdamW that of
    /// AdamW's step from the saved moments.
    @Test(arguments: [Optimizer.sgd, .adamW(AdamW())])
    func aCheckpointsSnapshotLeavesTheModelAsItWas(optimizer: Optimizer) throws {
        let trainer = try Self.trainer(Self.models[0], options: Self.options(steps: 20, learningRate: 0.05, optimizer: optimizer))
        try trainer.train()
        let model = trainer.model, values = model.parameters.copy()
        var generator = SeededGenerator(seed: 2)
        var batch = model.makeBatch(count: 8)
        batch.refill(from: trainer.splits.train, using: &generator)
        let snapshot = Diagnostics.inspect(
            model: model, batch: batch, step: 20, optimizer: optimizer, state: trainer.optimizerState, learningRate: 0.05)
        #expect((0..<values.values.count).allSatisfy { values.values.base[$0] == model.parameters.values.base[$0] })
        #expect(trainer.optimizerState.step == (optimizer == .sgd ? 0 : 20))
        let copy = model.independentCopy()
        _ = copy.plainForwardBackward(on: batch)
        for weight in snapshot.weights {
            let gradient = copy.parameters.gradient(weight.name).array, data = values[weight.name].array
            let sgd = log10(0.05 * directStd(gradient) / directStd(data))
            if optimizer == .sgd {
                #expect(abs(weight.updateToData! - sgd) < 1e-3, "\(weight.name)")
            } else {
                #expect(weight.updateToData!.isFinite && abs(weight.updateToData! - sgd) > 0.1, "\(weight.name): AdamW's step is not lr · grad")
            }
        }
    }

    // MARK: Warnings

    /// A learning rate 100 times the recipe's: update ratios near -1 (two orders above the guide),
    /// and the warnings say so in words.
    @Test func aLearningRateFarTooLargeShowsInTheRatiosAndTheWarnings() throws {
        var options = Self.options(steps: 300, learningRate: 10)
        options.batchSize = 32
        let trainer = try Self.trainer(("mlp", ModelSizes(embed: 10, hidden: 64, block: 3, layers: 1)), options: options)
        trainer.diagnostics = Diagnostics(interval: 20)
        try trainer.train()
        let last = trainer.diagnostics!.snapshots.suffix(4)
        let ratios = last.flatMap { $0.weights.compactMap(\.updateToData) }
        let mean = ratios.reduce(0, +) / Double(ratios.count)
        #expect(mean > -2 && mean < 0, "mean update ratio \(mean)")
        let warnings = Diagnostics.warnings(trainer.diagnostics!.snapshots)
        #expect(warnings.contains { $0.contains("the learning rate is too large") })

        // The recipe's rate on the same model: no such warning.
        let calm = try Self.trainer(("mlp", ModelSizes(embed: 10, hidden: 64, block: 3, layers: 1)), options: Self.options(steps: 300, learningRate: 0.01))
        calm.diagnostics = Diagnostics(interval: 20)
        try calm.train()
        #expect(!Diagnostics.warnings(calm.diagnostics!.snapshots).contains { $0.contains("too large") })
    }

    @Test func saturatedAndDeadLayersAreNamedInWords() {
        let output = Tensor<Float>(shape: [4, 3], repeating: 0.999)
        let stats = NonlinearityStatistics(NonlinearityOutput(name: "tanh 1", kind: .tanh, output: output, gradient: Tensor(shape: [4, 3])))
        let snapshot = DiagnosticsSnapshot(step: 1, learningRate: 0.1, loss: 3, nonlinearities: [stats], weights: [], batchNorms: [])
        let warnings = Diagnostics.warnings([snapshot])
        #expect(warnings.count == 2)
        #expect(warnings[0].hasPrefix("tanh 1: 100% of the outputs are saturated"))
        #expect(warnings[1].hasPrefix("tanh 1: 3 of 3 units are dead"))
    }

    // MARK: Files

    @Test func theReportHasEverySectionAndNoExternalResource() throws {
        let trainer = try Self.trainer(Self.models[0], options: Self.options(steps: 20))
        trainer.diagnostics = Diagnostics(interval: 5)
        try trainer.train()
        let html = DiagnosticsReport(title: "t", header: [("model", "mlp <small>")], log: trainer.log, snapshots: trainer.diagnostics!.snapshots).html()
        for section in ["header", "warnings", "loss", "activations", "activation-gradients", "weight-gradients", "update-ratios", "batchnorm"] {
            #expect(html.contains("<section id=\"\(section)\">"), "\(section)")
        }
        #expect(html.contains("mlp &lt;small&gt;"))
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!html.contains("https://") && !html.contains("<script"))
        #expect(!html.contains("data-points=\"0\""))
    }

    @Test func tensorBoardRecordsAreFramedWithMaskedCRCs() {
        var events = TensorBoardEvents(wallTime: 1)
        events.addScalar("Loss/train", 2.5, step: 7, wallTime: 2)
        var offset = 0, records = 0
        let bytes = events.bytes
        func uint32(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        while offset < bytes.count {
            let length = Int(bytes[offset..<offset + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            #expect(uint32(offset + 8) == TensorBoardEvents.masked(CRC32C.checksum(Array(bytes[offset..<offset + 8]))))
            let data = Array(bytes[offset + 12..<offset + 12 + length])
            #expect(uint32(offset + 12 + length) == TensorBoardEvents.masked(CRC32C.checksum(data)))
            offset += 16 + length
            records += 1
        }
        #expect(offset == bytes.count && records == 2)
        // The masked CRC of TFRecord's reference: masked(crc32c("")) = 0xa282ead8.
        #expect(TensorBoardEvents.masked(0) == 0xA282_EAD8)
        var varint = ProtobufWriter()
        varint.int64(2, 300)
        #expect(varint.bytes == [0x10, 0xAC, 0x02])
    }

    private func directStd(_ values: [Float]) -> Double {
        let x = values.map(Double.init), mean = x.reduce(0, +) / Double(x.count)
        return (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count - 1)).squareRoot()
    }
}
