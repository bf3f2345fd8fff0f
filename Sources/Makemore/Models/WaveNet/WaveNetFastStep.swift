/// One training step of a `WaveNet` (forward, backward, optionally the SGD update) shared by one
/// thread or two: `WaveNet.forward`, `backward` and `update` with the work of each layer cut
/// between the parts, so that no two parts write the same memory in a phase.
///
/// Each part (thread) takes a slice `f` of the hidden features of every level (two slices, cut at
/// a multiple of 32 features, unless the level is narrow) or a range of rows. The phases, with a
/// wait for all parts after each:
///
///     forward, level i     per slice f: hprebn[:, f] = x @ W[:, f]; batch-norm and tanh of the
///                          features f (each feature is normalised on its own)
///     output               per rows r: logits[r] = h[r] @ W_out + b_out; softmax, loss, dlogits
///     output backward      per slice f: dW_out[f, :] = h[:, f]ᵀ @ dlogits and dh[:, f] =
///                          dlogits @ W_out[f, :]ᵀ, then W_out[f, :] updated; part 0: b_out
///     backward, level i    per slice f: below the top, dh[:, f] of both time steps of each pair
///                          = dhprebn_above @ W_above[{f, hidden+f}, :]ᵀ (FlattenConsecutive's
///                          columns f and hidden+f), then those rows of W_above updated; tanh
///                          and batch-norm backward of f, gain[f] and bias[f] updated;
///                          dW[:, f] = xᵀ @ dhprebn[:, f]
///     embedding gradient   per rows r: demb[r] = dhprebn_1[r] @ W_1ᵀ
///     (calling thread)     the scatter of demb into dC; C and W_1 updated
///
/// Each parameter is updated by the part that last reads it, right after that read. Every number
/// is computed by the same kernel, in the same order, as on the plain path (a column of a product
/// or a row of it does not depend on the others), so the step equals `forward`, `backward`,
/// `update` bit for bit, on one thread or two (tested).
final class WaveNetFastStep<T: Scalar>: TeamWork {
    let batch: Int
    let parts: Int
    unowned let model: WaveNet<T>
    let a: WaveNetActivations<T>
    /// The hidden features of each part (one slice each).
    let features: [Range<Int>]
    /// Per part, views of its rows, made once: of the logits and of the last level's output
    /// (`(rows, ·)`), and per level of `dHprebn` and of `dX`.
    let logitRows, outputInputRows: [Tensor<T>]
    let dHprebnRows, dXRows: [[Tensor<T>]]

    init(model: WaveNet<T>, batch n: Int, parts: Int, activations: WaveNetActivations<T>) {
        self.batch = n
        self.parts = parts
        self.model = model
        self.a = activations
        features = parts == 1 ? [0..<model.config.hiddenSize] : Partition.featureSlices(model.config.hiddenSize)
        let batchRows = (0..<parts).map { Partition.part($0, of: parts, n) }
        logitRows = batchRows.map { activations.logits.rows($0) }
        outputInputRows = batchRows.map { activations.levels.last!.h.rows($0) }
        dHprebnRows = (0..<parts).map { part in
            activations.levels.map { $0.dHprebn.rows(Partition.part(part, of: parts, $0.dHprebn.rows)) }
        }
        dXRows = (0..<parts).map { part in
            activations.levels.map { $0.dX.rows(Partition.part(part, of: parts, $0.dHprebn.rows)) }
        }
    }

    private enum Phase: Int {
        case forward, output, outputBackward, backward, embeddingGradient
    }

    /// What the parts of the running step read: set by `run` before each phase.
    private var contexts: UnsafePointer<Int32>?
    private var targets: UnsafePointer<Int32>?
    private var learningRate: T?
    private var level = 0

    /// Runs the step; returns the mean loss. Updates the parameters when given a learning rate
    /// and the loss is finite.
    func run(contexts: UnsafePointer<Int32>, targets: UnsafePointer<Int32>, learningRate: T?) -> T {
        let team = WorkerTeam.shared, config = model.config
        self.contexts = contexts
        self.targets = targets
        model.embedding.forward(contexts: contexts, blockSize: config.blockSize, into: a.embByExample)
        for level in model.levels.indices {
            self.level = level
            team.run(parts: parts, self, task: Phase.forward.rawValue)
        }
        team.run(parts: parts, self, task: Phase.output.rawValue)
        var total: T = 0
        for i in 0..<batch { total += a.rowLosses[i] }
        self.learningRate = total.isFinite ? learningRate : nil
        team.run(parts: parts, self, task: Phase.outputBackward.rawValue)
        for level in model.levels.indices.reversed() {
            self.level = level
            team.run(parts: parts, self, task: Phase.backward.rawValue)
        }
        team.run(parts: parts, self, task: Phase.embeddingGradient.rawValue)
        model.embedding.dTable.fill(0)
        model.embedding.backward(contexts: contexts, blockSize: config.blockSize, dOut: a.dEmbByExample)
        if let learningRate = self.learningRate {
            let first = model.levels[0].linear
            SGD.step(model.embedding.table, model.embedding.dTable, learningRate: learningRate)
            SGD.step(first.weight, first.dWeight, learningRate: learningRate)
        }
        return total / T(batch)
    }

    /// Helper threads reach this through the `TeamWork` witness, which is generic code; the
    /// specialization makes them run the `Float` code the calling thread runs.
    @_specialize(where T == Float)
    func run(task: Int, part: Int) {
        let f = features[part], rows = Partition.part(part, of: parts, batch)
        switch Phase(rawValue: task)! {
        case .forward:
            let layer = model.levels[level], h = a.levels[level]
            layer.linear.forward(h.x, into: h.hprebn, columns: f)
            layer.batchNorm.forwardTraining(h.hprebn, into: h.hpreact, xhat: h.xhat, inverseStd: h.inverseStd, features: f)
            Tanh.forward(h.hpreact, into: h.h, columns: f)
        case .output:
            guard !rows.isEmpty else { return }
            model.output.forward(outputInputRows[part], into: logitRows[part])
            CrossEntropy.forward(logits: a.logits, targets: targets!, probs: a.probs, rows: rows, losses: a.rowLosses.pointer)
            CrossEntropy.backward(probs: a.probs, targets: targets!, dLogits: a.dLogits, rows: rows)
        case .outputBackward:
            let last = a.levels.last!, output = model.output, v = output.outputCount
            output.weightGradient(x: last.h, columns: f, inputs: f, dOut: a.dLogits, outputs: 0..<v)
            output.inputGradient(dOut: a.dLogits, into: last.dH, columns: f)
            if part == 0 { output.biasGradient(dOut: a.dLogits, outputs: 0..<v) }
            if let learningRate {
                SGD.step(output.weight, output.dWeight, learningRate: learningRate, elements: f.lowerBound * v..<f.upperBound * v)
                if part == 0 { SGD.step(output.bias!, output.dBias!, learningRate: learningRate) }
            }
        case .backward:
            let layer = model.levels[level], h = a.levels[level], hidden = model.config.hiddenSize
            if level + 1 < model.levels.count {  // dh[:, f] from the level above, whose rows {f, hidden + f} this part owns
                let above = model.levels[level + 1].linear, aboveActivations = a.levels[level + 1]
                // Two calls, not a loop over an array of the two ranges, which would allocate.
                func gradient(rows: Range<Int>) {
                    above.inputGradient(dOut: aboveActivations.dHprebn, into: aboveActivations.dX, columns: rows)
                    if let learningRate {
                        SGD.step(above.weight, above.dWeight, learningRate: learningRate,
                                 elements: rows.lowerBound * hidden..<rows.upperBound * hidden)
                    }
                }
                gradient(rows: f)
                gradient(rows: hidden + f.lowerBound..<hidden + f.upperBound)
            }
            Tanh.backward(out: h.h, dOut: h.dH, dX: h.dHpreact, columns: f)
            layer.batchNorm.backward(
                dOut: h.dHpreact, xhat: h.xhat, inverseStd: h.inverseStd, dX: h.dHprebn, scratch: h.scratch, features: f)
            if let learningRate {
                let batchNorm = layer.batchNorm
                SGD.step(batchNorm.gain, batchNorm.dGain, learningRate: learningRate, elements: f)
                SGD.step(batchNorm.bias, batchNorm.dBias, learningRate: learningRate, elements: f)
            }
            layer.linear.weightGradient(x: h.x, dOut: h.dHprebn, columns: f)
        case .embeddingGradient:
            let linear = model.levels[0].linear, dOut = dHprebnRows[part][0]
            guard dOut.rows > 0 else { return }
            linear.inputGradient(
                dOut: dOut, outputs: 0..<linear.outputCount, into: dXRows[part][0], inputs: 0..<linear.inputCount,
                accumulate: false)
        }
    }
}
