import Foundation
import Testing

@testable import Makemore

/// makemore's RNN and GRU: each cell's backward against central finite differences of its
/// forward, in Double, at small odd sizes (loss `Σ h ⊙ R`), the time-major order, and the whole
/// models against the gradient check with words of no characters and of the most the block allows.
@Suite struct RNNTests {
    /// One step of `Cell` on `m` rows: `h = cell(xh)`, the backward of `Σ h ⊙ R` (and the
    /// weight gradients) against finite differences of `xh` and of every Linear.
    func checkCell<Cell: RecurrentCell>(_: Cell.Type, rows m: Int, embed e: Int, hidden n: Int) {
        var g = SeededGenerator(seed: UInt64(100 * m + 10 * e + n))
        let linears = Cell.linearNames.map { _ in
            TorchLinear<Double>(
                weight: randomTensor([n, e + n], &g), bias: randomTensor([n], &g), dWeight: Tensor(shape: [n, e + n]),
                dBias: Tensor(shape: [n]))
        }
        let xh: Tensor<Double> = randomTensor([m, e + n], &g, scale: 1.5)
        let r: Tensor<Double> = randomTensor([m, n], &g)
        let cache = Cell.cacheWidths(embed: e, hidden: n).map { Tensor<Double>(shape: [m, $0]) }
        let scratch = Cell.scratchWidths(embed: e, hidden: n).map { Tensor<Double>(shape: [m, $0]) }
        let h = Tensor<Double>(shape: [m, n])
        func loss() -> Double {
            Cell.forward(linears, xh: xh, cache: cache, h: h, rows: 0..<m)
            return dot(h, r)
        }
        _ = loss()
        let dXH = Tensor<Double>(shape: [m, e + n])
        Cell.backward(linears, xh: xh, cache: cache, h: h, dH: r, dXH: dXH, scratch: scratch, rows: 0..<m)
        Cell.weightGradients(linears, xh: xh, cache: cache, scratch: scratch, rows: 0..<m)
        expectClose(dXH, numericalGradient(of: xh, loss), tolerance: 1e-7, "dxh")
        for (name, linear) in zip(Cell.linearNames, linears) {
            expectClose(linear.dWeight, numericalGradient(of: linear.weight, loss), tolerance: 1e-7, "d\(name).weight")
            expectClose(linear.dBias!, numericalGradient(of: linear.bias!, loss), tolerance: 1e-7, "d\(name).bias")
        }
    }

    @Test(arguments: [(1, 1, 1), (3, 2, 5), (4, 7, 9)])
    func rnnCellBackwardMatchesFiniteDifferences(rows: Int, embed: Int, hidden: Int) {
        checkCell(RNNCell.self, rows: rows, embed: embed, hidden: hidden)
    }

    @Test(arguments: [(1, 1, 1), (3, 2, 5), (4, 7, 9)])
    func gruCellBackwardMatchesFiniteDifferences(rows: Int, embed: Int, hidden: Int) {
        checkCell(GRUCell.self, rows: rows, embed: embed, hidden: hidden)
    }

    /// Words of 0, 3, 1 and 5 characters (the most block 6 allows).
    static let words: [[Int32]] = [[], [3, 1, 2], [4], [1, 2, 3, 4, 1]]

    @Test func timeStepsRunTheLongestWordsFirst() {
        let batch = WordBatch(words: Self.words, blockSize: 6)
        let steps = TimeSteps(batch)
        #expect(steps.order == [3, 1, 2, 0])
        #expect(steps.starts == [0, 4, 7, 9, 11, 12, 13])
        #expect(steps.packedRow.count == batch.rows && Set(steps.packedRow).count == batch.rows)
        #expect(Array(steps.packedRow[0..<4]) == [7, 1, 5, 0])  // each word's first position
        #expect(Array(steps.packedRow[4..<7]) == [8, 2, 6])  // and second, of the words still running
    }

    func checkModel<Cell: RecurrentCell>(_: Cell.Type, embed: Int, hidden: Int) throws {
        let config = RecurrentConfig<Cell>(vocabularySize: 5, embeddingSize: embed, hiddenSize: hidden, blockSize: 6)
        var g = SeededGenerator(seed: 1)
        let parameters = RecurrentModel<Double, Cell>.initialParameters(config, generator: &g)
        // a start state that is not zero, so that its gradient's path is exercised with values
        for j in 0..<hidden { parameters["start"][j] = 0.1 * Double(j % 3) - 0.1 }
        let pass = try RecurrentPass(parameters: parameters, config: config, batch: WordBatch(words: Self.words, blockSize: 6))
        let rows = GradientCheck().run(pass)
        #expect(rows.count == pass.gradientOrder.count)
        for row in rows { #expect(row.passed, "\(row.name): maxdiff \(row.maxDifference)") }
    }

    @Test(arguments: [(3, 5), (4, 9)])
    func rnnGradientCheckPasses(embed: Int, hidden: Int) throws {
        try checkModel(RNNCell.self, embed: embed, hidden: hidden)
    }

    @Test(arguments: [(3, 5), (4, 9)])
    func gruGradientCheckPasses(embed: Int, hidden: Int) throws {
        try checkModel(GRUCell.self, embed: embed, hidden: hidden)
    }

    @Test func defaultSizesAreMakemores() throws {
        let rnn = try RecurrentConfig<RNNCell>(vocabularySize: 27, sizes: ModelSizes(), defaults: .training)
        #expect(rnn.embeddingSize == 64 && rnn.hiddenSize == 64 && rnn.parameterCount == 11_803)
        #expect(rnn.parameterSpecs.map(\.name) == [
            "start", "wte.weight", "cell.xh_to_h.weight", "cell.xh_to_h.bias", "lm_head.weight", "lm_head.bias",
        ])
        let gru = try RecurrentConfig<GRUCell>(vocabularySize: 27, sizes: ModelSizes(), defaults: .training)
        #expect(gru.parameterCount == 11_803 + 2 * (64 * 128 + 64))
        #expect(gru.parameterSpecs[2].name == "cell.xh_to_z.weight" && gru.parameterSpecs[6].name == "cell.xh_to_hbar.weight")
        expectError(containing: "--layers 2") {
            _ = try RecurrentConfig<GRUCell>(vocabularySize: 27, sizes: ModelSizes(layers: 2), defaults: .training)
        }
        let options = RNN<Float>.defaultOptions
        #expect(options.optimizer.name == "adamw" && options.learningRate == 5e-4 && options.learningRateSchedule == .constant)
        let named = try Models.named("rnn")
        #expect(RNN<Float>.readsWholeWords && GRU<Float>.name == "gru" && named == RNN<Float>.self)
    }

    @Test func lossOnDatasetIsPerCharacter() throws {
        let words = ["ab", "c", "abc"]
        let dataset = try Dataset(words: words, vocabulary: Vocabulary(words: words), blockSize: 4)
        let config = RecurrentConfig<GRUCell>(vocabularySize: 4, embeddingSize: 3, hiddenSize: 5, blockSize: 4)
        var g = SeededGenerator(seed: 3)
        let model = GRU<Double>(config: config, parameters: GRU<Double>.initialParameters(config, generator: &g))
        let whole = model.forward(WordBatch(words: 0..<3, of: dataset))
        #expect(abs(model.loss(on: dataset, chunk: 2) - whole) < 1e-12)
        // the logits after a word are those of its last position in a batch of it alone
        let logits = model.logits(after: [1, 2]).array
        let alone = model.forwardLogits(WordBatch(words: [[1, 2]], blockSize: 4))
        #expect(logits == alone.rows(2..<3).array)
    }

    /// The buffers are made once and reused: a batch after a larger one gives the loss and the
    /// gradients, bit for bit, of a model that has seen only it.
    @Test func reusedBuffersGiveTheResultsOfFreshOnes() {
        let config = RecurrentConfig<GRUCell>(vocabularySize: 5, embeddingSize: 3, hiddenSize: 7, blockSize: 6)
        var g = SeededGenerator(seed: 4)
        let parameters = GRU<Float>.initialParameters(config, generator: &g)
        let used = GRU<Float>(config: config, parameters: parameters.copy())
        let fresh = GRU<Float>(config: config, parameters: parameters.copy())
        _ = used.forward(WordBatch(words: Self.words + Self.words, blockSize: 6))
        used.backward(WordBatch(words: Self.words + Self.words, blockSize: 6))
        let batch = WordBatch(words: [[2, 2], [1]], blockSize: 6)
        #expect(used.forward(batch) == fresh.forward(batch))
        used.backward(batch)
        fresh.backward(batch)
        let a = used.parameters.gradients, b = fresh.parameters.gradients
        #expect((0..<a.count).allSatisfy { a.base[$0] == b.base[$0] })
    }
}
