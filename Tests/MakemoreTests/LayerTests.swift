import Testing

@testable import Makemore

/// Each layer's hand-written backward against central finite differences of its forward, in
/// Double, on random inputs at awkward shapes. The loss is `Σ out ⊙ R` for a random `R`, so the
/// gradient flowing into the layer is `R`.
@Suite struct LayerTests {
    static let shapes: [(rows: Int, inputs: Int, outputs: Int)] = [(1, 1, 1), (2, 3, 1), (3, 1, 5), (5, 7, 3), (17, 9, 33)]

    @Test(arguments: shapes)
    func linearBackwardMatchesFiniteDifferences(rows n: Int, inputs: Int, outputs: Int) {
        var g = SeededGenerator(seed: UInt64(n * 100 + inputs * 10 + outputs))
        let x: Tensor<Double> = randomTensor([n, inputs], &g)
        let linear = Linear<Double>(
            weight: randomTensor([inputs, outputs], &g), bias: randomTensor([outputs], &g),
            dWeight: Tensor(shape: [inputs, outputs]), dBias: Tensor(shape: [outputs]))
        let r: Tensor<Double> = randomTensor([n, outputs], &g)
        let out = Tensor<Double>(shape: [n, outputs])
        func loss() -> Double { linear.forward(x, into: out); return dot(out, r) }

        let dX = Tensor<Double>(shape: [n, inputs])
        linear.backward(x: x, dOut: r, dX: dX)
        expectClose(dX, numericalGradient(of: x, loss), tolerance: 1e-6, "dx")
        expectClose(linear.dWeight, numericalGradient(of: linear.weight, loss), tolerance: 1e-6, "dW")
        expectClose(linear.dBias!, numericalGradient(of: linear.bias!, loss), tolerance: 1e-6, "db")
    }

    @Test(arguments: shapes)
    func tanhBackwardMatchesFiniteDifferences(rows n: Int, inputs: Int, outputs _: Int) {
        var g = SeededGenerator(seed: UInt64(n * 7 + inputs))
        let x: Tensor<Double> = randomTensor([n, inputs], &g, scale: 2)
        let r: Tensor<Double> = randomTensor([n, inputs], &g)
        let out = Tensor<Double>(shape: [n, inputs])
        func loss() -> Double { Tanh.forward(x, into: out); return dot(out, r) }
        _ = loss()
        let dX = Tensor<Double>(shape: [n, inputs])
        Tanh.backward(out: out, dOut: r, dX: dX)
        expectClose(dX, numericalGradient(of: x, loss), tolerance: 1e-8, "dx")
    }

    @Test(arguments: [(1, 1, 1), (2, 2, 3), (5, 3, 4), (17, 5, 7)])
    func embeddingBackwardAddsRepeatedRows(rows n: Int, blockSize: Int, embed: Int) {
        var g = SeededGenerator(seed: UInt64(n + 31 * blockSize))
        let vocabulary = 4  // small, so rows repeat within a batch
        let embedding = Embedding<Double>(table: randomTensor([vocabulary, embed], &g), dTable: Tensor(shape: [vocabulary, embed]))
        let contexts = (0..<n * blockSize).map { _ in Int32(g.nextIndex(below: vocabulary)) }
        let r: Tensor<Double> = randomTensor([n, blockSize * embed], &g)
        let out = Tensor<Double>(shape: [n, blockSize * embed])
        func loss() -> Double { embedding.forward(contexts: contexts, blockSize: blockSize, into: out); return dot(out, r) }
        embedding.backward(contexts: contexts, blockSize: blockSize, dOut: r)
        expectClose(embedding.dTable, numericalGradient(of: embedding.table, loss), tolerance: 1e-8, "dC")
    }

    @Test(arguments: [(2, 1), (2, 5), (3, 3), (5, 1), (17, 33)])
    func batchNormBackwardMatchesFiniteDifferences(rows n: Int, features f: Int) {
        var g = SeededGenerator(seed: UInt64(n * 1000 + f))
        let x: Tensor<Double> = randomTensor([n, f], &g, scale: 2, shift: 0.5)
        let batchNorm = BatchNorm1d<Double>(
            gain: randomTensor([1, f], &g, scale: 0.1, shift: 1), bias: randomTensor([1, f], &g, scale: 0.1),
            runningMean: Tensor(shape: [1, f]), runningVariance: Tensor(shape: [1, f], repeating: 1),
            dGain: Tensor(shape: [1, f]), dBias: Tensor(shape: [1, f]), epsilon: 1e-5, momentum: 0.001)
        let r: Tensor<Double> = randomTensor([n, f], &g)
        let out = Tensor<Double>(shape: [n, f]), xhat = Tensor<Double>(shape: [n, f]), inverseStd = Tensor<Double>(shape: [f])
        func loss() -> Double {
            batchNorm.forwardTraining(x, into: out, xhat: xhat, inverseStd: inverseStd, updatingRunningStatistics: false)
            return dot(out, r)
        }
        _ = loss()
        let dX = Tensor<Double>(shape: [n, f])
        batchNorm.backward(dOut: r, xhat: xhat, inverseStd: inverseStd, dX: dX, scratch: Tensor(shape: [3, f]))
        expectClose(dX, numericalGradient(of: x, loss), tolerance: 1e-7, "dx")
        expectClose(batchNorm.dGain, numericalGradient(of: batchNorm.gain, loss), tolerance: 1e-7, "dgain")
        expectClose(batchNorm.dBias, numericalGradient(of: batchNorm.bias, loss), tolerance: 1e-7, "dbias")
    }

    /// The column forms that fast paths share between threads (Linear without bias, batch-norm,
    /// tanh on the columns of full-width tensors) give the whole layer's numbers, bit for bit,
    /// and write nothing outside their columns.
    @Test(arguments: [(5, 7, 70), (32, 48, 128), (3, 9, 5)])
    func columnFormsEqualTheWholeLayer(rows n: Int, inputs: Int, features f: Int) {
        var g = SeededGenerator(seed: UInt64(n + inputs + f))
        let x: Tensor<Float> = randomTensor([n, inputs], &g)
        let linear = Linear<Float>(weight: randomTensor([inputs, f], &g), bias: nil, dWeight: Tensor(shape: [inputs, f]), dBias: nil)
        let batchNorm = BatchNorm1d<Float>(
            gain: randomTensor([1, f], &g, scale: 0.1, shift: 1), bias: randomTensor([1, f], &g, scale: 0.1),
            runningMean: Tensor(shape: [1, f]), runningVariance: Tensor(shape: [1, f], repeating: 1),
            dGain: Tensor(shape: [1, f]), dBias: Tensor(shape: [1, f]), epsilon: 1e-5, momentum: 0.1)
        let dOut: Tensor<Float> = randomTensor([n, f], &g)
        func pass(_ slices: [Range<Int>]) -> [[Float]] {
            let pre = Tensor<Float>(shape: [n, f], repeating: .nan), xhat = Tensor<Float>(shape: [n, f], repeating: .nan)
            let out = Tensor<Float>(shape: [n, f], repeating: .nan), h = Tensor<Float>(shape: [n, f], repeating: .nan)
            let inverseStd = Tensor<Float>(shape: [f]), dPre = Tensor<Float>(shape: [n, f], repeating: .nan)
            let dAct = Tensor<Float>(shape: [n, f], repeating: .nan), dX = Tensor<Float>(shape: [n, inputs])
            batchNorm.runningMean.fill(0)
            linear.dWeight.fill(.nan)
            for c in slices {
                linear.forward(x, into: pre, columns: c)
                batchNorm.forwardTraining(pre, into: out, xhat: xhat, inverseStd: inverseStd, features: c)
                Tanh.forward(out, into: h, columns: c)
                Tanh.backward(out: h, dOut: dOut, dX: dAct, columns: c)
                batchNorm.backward(dOut: dAct, xhat: xhat, inverseStd: inverseStd, dX: dPre, scratch: Tensor(shape: [3, f]), features: c)
                linear.weightGradient(x: x, dOut: dPre, columns: c)
            }
            linear.inputGradient(dOut: dPre, outputs: 0..<f, into: dX, inputs: 0..<inputs, accumulate: false)
            return [pre, out, h, dAct, dPre, linear.dWeight, batchNorm.dGain, batchNorm.dBias, batchNorm.runningMean, dX].map(\.array)
        }
        let whole = pass([0..<f])
        let split = f >= 64 ? 32 : f / 2
        let sliced = pass([0..<split, split..<f])
        #expect(whole == sliced)
        #expect(!whole.joined().contains { $0.isNaN }, "a column was left unwritten")
        // The whole forms: Linear.forward (no bias), BatchNorm1d and Tanh on whole tensors.
        let pre = Tensor<Float>(shape: [n, f]), out = Tensor<Float>(shape: [n, f]), h = Tensor<Float>(shape: [n, f])
        linear.forward(x, into: pre)
        batchNorm.runningMean.fill(0)
        batchNorm.forwardTraining(pre, into: out, xhat: Tensor(shape: [n, f]), inverseStd: Tensor(shape: [f]))
        Tanh.forward(out, into: h)
        #expect([pre.array, out.array, h.array] == Array(whole[0..<3]))
        // Input gradient by columns of x.
        let dX = Tensor<Float>(shape: [n, inputs]), dXColumns = Tensor<Float>(shape: [n, inputs])
        linear.inputGradient(dOut: dOut, outputs: 0..<f, into: dX, inputs: 0..<inputs, accumulate: false)
        linear.inputGradient(dOut: dOut, into: dXColumns, columns: 0..<inputs / 2)
        linear.inputGradient(dOut: dOut, into: dXColumns, columns: inputs / 2..<inputs)
        #expect(dX.array == dXColumns.array)
    }

    @Test func batchNormUsesBatchSizeAndBesselAndRunningStatistics() {
        // Two features, three examples: mean and unbiased variance by hand.
        let x = Tensor<Double>(shape: [3, 2], values: [1, 10, 2, 20, 6, 30])
        let batchNorm = BatchNorm1d<Double>(
            gain: Tensor(shape: [1, 2], repeating: 1), bias: Tensor(shape: [1, 2]),
            runningMean: Tensor(shape: [1, 2]), runningVariance: Tensor(shape: [1, 2], repeating: 1),
            dGain: Tensor(shape: [1, 2]), dBias: Tensor(shape: [1, 2]), epsilon: 0, momentum: 0.5)
        let out = Tensor<Double>(shape: [3, 2]), xhat = Tensor<Double>(shape: [3, 2]), inverseStd = Tensor<Double>(shape: [2])
        batchNorm.forwardTraining(x, into: out, xhat: xhat, inverseStd: inverseStd)
        // Feature 0: mean 3, variance ((-2)² + (-1)² + 3²) / 2 = 7. Feature 1: mean 20, variance 100.
        #expect(Swift.abs(out[0, 0] - (-2 / 7.0.squareRoot())) < 1e-12)
        #expect(Swift.abs(out[2, 1] - 1) < 1e-12)
        #expect(batchNorm.runningMean.array == [1.5, 10])
        #expect(batchNorm.runningVariance.array == [4, 50.5])
        // Evaluation normalises with the running statistics, not the batch's.
        batchNorm.forwardEvaluation(x, into: out)
        #expect(Swift.abs(out[0, 0] - (1 - 1.5) / 2) < 1e-12)
        #expect(Swift.abs(out[0, 1] - 0) < 1e-12)
    }

    @Test(arguments: [(1, 2), (2, 27), (5, 3), (17, 7)])
    func crossEntropyBackwardMatchesFiniteDifferences(rows n: Int, classes v: Int) {
        var g = SeededGenerator(seed: UInt64(n * 13 + v))
        let logits: Tensor<Double> = randomTensor([n, v], &g, scale: 3)
        let targets = (0..<n).map { _ in Int32(g.nextIndex(below: v)) }
        let probs = Tensor<Double>(shape: [n, v])
        func loss() -> Double { CrossEntropy.forward(logits: logits, targets: targets, probs: probs) }
        _ = loss()
        let dLogits = Tensor<Double>(shape: [n, v])
        CrossEntropy.backward(probs: probs, targets: targets, dLogits: dLogits)
        expectClose(dLogits, numericalGradient(of: logits, loss), tolerance: 1e-8, "dlogits")
    }

    @Test func crossEntropyStaysFiniteForExtremeLogits() {
        let logits = Tensor<Float>(shape: [2, 3], values: [1000, -1000, 0, -1000, 1000, 0])
        let probs = Tensor<Float>(shape: [2, 3])
        let loss = CrossEntropy.forward(logits: logits, targets: [1, 1], probs: probs)
        #expect(loss.isFinite)
        #expect(Swift.abs(loss - 1000) < 1e-3)
    }
}
