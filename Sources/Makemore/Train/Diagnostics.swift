import Foundation

// The diagnostics of part 3 of the lecture ("Activations & Gradients, BatchNorm"): the
// distribution of every nonlinearity's output and of the gradient arriving at it, the gradient of
// every weight matrix against its values, the size of each update against the values it moves,
// and batch-norm's running statistics against the batch's. Collected at a few steps of a run
// (`Diagnostics.isDue`) with one extra plain forward and backward on a copy of the model, so the
// steps in between run exactly as without them and the run's numbers do not change.

/// A histogram of fixed-width bins between `lower` and `upper`; values outside go to the end bins
/// and values that are not finite are counted apart, so `total` is every value added.
public struct Histogram: Equatable, Sendable {
    /// The left edge of the first bin.
    public let lower: Double
    /// The right edge of the last bin.
    public let upper: Double
    /// How many values fell in each bin, left to right.
    public private(set) var counts: [Int]
    /// Values that were NaN or infinite (in no bin).
    public private(set) var nonFinite = 0

    /// An empty histogram of `bins` bins over `lower ... upper` (`upper > lower`).
    public init(bins: Int, lower: Double, upper: Double) {
        precondition(bins >= 1 && upper > lower, "a histogram needs a bin and a range")
        self.lower = lower
        self.upper = upper
        counts = Array(repeating: 0, count: bins)
    }

    /// The histogram of `values` over their own range (a range of width 1 around them when they
    /// are all equal), in `bins` bins.
    public init(_ values: UnsafeBufferPointer<Float>, bins: Int = 50) {
        var low = Double.infinity, high = -Double.infinity
        for v in values where v.isFinite {
            low = Swift.min(low, Double(v))
            high = Swift.max(high, Double(v))
        }
        if !(low < high) {
            let center = low.isFinite ? low : 0
            (low, high) = (center - 0.5, center + 0.5)
        }
        self.init(bins: bins, lower: low, upper: high)
        for v in values { add(Double(v)) }
    }

    /// Adds one value to its bin (the last bin includes `upper`).
    public mutating func add(_ value: Double) {
        guard value.isFinite else {
            nonFinite += 1
            return
        }
        let position = (value - lower) / (upper - lower) * Double(counts.count)
        let bin = Swift.min(counts.count - 1, Swift.max(0, Int(position.rounded(.down))))
        counts[bin] += 1
    }

    /// Every value added, in a bin or not finite.
    public var total: Int { counts.reduce(0, +) + nonFinite }
    /// The `counts.count + 1` bin edges, `lower` to `upper`.
    public var edges: [Double] {
        (0...counts.count).map { lower + (upper - lower) * Double($0) / Double(counts.count) }
    }
}

/// Count, mean, standard deviation (with Bessel's correction, as `torch.std`), extremes and sums
/// of a tensor's values, accumulated in Double.
public struct Moments: Equatable, Sendable {
    /// Number of values.
    public let count: Int
    /// Their mean.
    public let mean: Double
    /// Their standard deviation, `√(Σ(x - mean)² / (count - 1))` (0 for fewer than two values).
    public let std: Double
    /// The smallest and largest value.
    public let min, max: Double
    /// `Σx` and `Σx²`, as TensorBoard's histograms record them.
    public let sum, sumOfSquares: Double

    /// The moments of `values`.
    public init(_ values: UnsafeBufferPointer<Float>) {
        var sum = 0.0, squares = 0.0, low = Double.infinity, high = -Double.infinity
        for v in values {
            let x = Double(v)
            sum += x
            squares += x * x
            low = Swift.min(low, x)
            high = Swift.max(high, x)
        }
        let n = values.count
        let mean = n > 0 ? sum / Double(n) : 0
        var deviations = 0.0
        for v in values { deviations += (Double(v) - mean) * (Double(v) - mean) }
        count = n
        self.mean = mean
        std = n > 1 ? (deviations / Double(n - 1)).squareRoot() : 0
        min = n > 0 ? low : 0
        max = n > 0 ? high : 0
        self.sum = sum
        sumOfSquares = squares
    }

    /// The moments of a tensor's values.
    public init(_ tensor: Tensor<Float>) {
        self.init(UnsafeBufferPointer(start: tensor.pointer, count: tensor.count))
    }
}

/// A tensor's distribution: its moments and its histogram.
public struct Distribution: Equatable, Sendable {
    /// Mean, standard deviation, extremes.
    public let moments: Moments
    /// Its values in fixed-width bins over their range.
    public let histogram: Histogram

    /// The distribution of `tensor`'s values, in `bins` bins.
    public init(_ tensor: Tensor<Float>, bins: Int = 50) {
        let values = UnsafeBufferPointer(start: tensor.pointer, count: tensor.count)
        moments = Moments(values)
        histogram = Histogram(values, bins: bins)
    }
}

extension NonlinearityKind {
    /// Whether `value`, an output of this nonlinearity, is saturated: `|t| > 0.97` for tanh (the
    /// lecture's threshold), `t < 0.03` or `t > 0.97` for a sigmoid; never for GELU.
    public func isSaturated(_ value: Float) -> Bool {
        switch self {
        case .tanh: abs(value) > 0.97
        case .sigmoid: value < 0.03 || value > 0.97
        case .gelu: false
        }
    }

    /// Whether `value` is in the region where a unit passes (almost) no gradient: `|t| > 0.99` for
    /// tanh (the lecture's white columns), `t < 0.01` or `t > 0.99` for a sigmoid, `|t| < 0.01` for GELU.
    func isFlat(_ value: Float) -> Bool {
        switch self {
        case .tanh: abs(value) > 0.99
        case .sigmoid: value < 0.01 || value > 0.99
        case .gelu: abs(value) < 0.01
        }
    }

    /// Whether the nonlinearity saturates at all (GELU does not).
    public var saturates: Bool { self != .gelu }
}

/// A nonlinearity at one step: the distribution of its output, its saturated share, its dead
/// units, and the distribution of the gradient arriving at it.
public struct NonlinearityStatistics: Equatable, Sendable {
    /// Where it sits (`tanh 1`, `block 2 gelu`).
    public let name: String
    /// Which nonlinearity.
    public let kind: NonlinearityKind
    /// Its outputs on the batch.
    public let output: Distribution
    /// The share of outputs that are saturated (`NonlinearityKind.isSaturated`); 0 for GELU.
    public let saturatedShare: Double
    /// Units (columns) flat for every row of the batch: they pass (almost) no gradient, so they
    /// do not learn (the lecture's dead neurons).
    public let deadUnits: Int
    /// Units of the layer.
    public let units: Int
    /// The gradient of the loss arriving at its output.
    public let gradient: Distribution

    /// The statistics of `nonlinearity`.
    public init(_ nonlinearity: NonlinearityOutput) {
        name = nonlinearity.name
        kind = nonlinearity.kind
        let t = nonlinearity.output
        output = Distribution(t)
        gradient = Distribution(nonlinearity.gradient)
        var saturated = 0
        for i in 0..<t.count where kind.isSaturated(t[i]) { saturated += 1 }
        saturatedShare = t.count > 0 ? Double(saturated) / Double(t.count) : 0
        let columns = t.columns, rows = t.count / Swift.max(columns, 1), kind = nonlinearity.kind
        var dead = 0
        for j in 0..<columns where rows > 0 && (0..<rows).allSatisfy({ kind.isFlat(t.pointer[$0 * columns + j]) }) { dead += 1 }
        deadUnits = dead
        units = columns
    }
}

/// A weight matrix at one step: the distribution of its gradient and the lecture's two ratios.
public struct WeightStatistics: Equatable, Sendable {
    /// The parameter's name in checkpoints (`W1`, `transformer.h.0.mlp.c_fc.weight`).
    public let name: String
    /// Its shape.
    public let shape: [Int]
    /// The standard deviation of its values.
    public let dataStd: Double
    /// Its gradient on the batch.
    public let gradient: Distribution
    /// `std(grad) / std(data)`: how large the gradient is against the values it moves.
    public let gradientToData: Double
    /// `log10(std(update) / std(data))`, the update the step made against the values before it
    /// (`update = lr · grad` for SGD); the lecture's guide is about -3. Nil where no step was taken.
    public let updateToData: Double?

    /// The statistics of `values` and `gradient` (the same shape) named `name`, with the update ratio `updateToData`.
    public init(name: String, values: Tensor<Float>, gradient: Tensor<Float>, updateToData: Double?) {
        self.name = name
        shape = values.shape
        dataStd = Moments(values).std
        self.gradient = Distribution(gradient)
        gradientToData = self.gradient.moments.std / dataStd
        self.updateToData = updateToData
    }
}

/// A batch-norm layer at one step: the batch's mean and variance of each feature beside the running ones.
public struct BatchNormStatistics: Equatable, Sendable {
    /// Where it sits (`batchnorm 1`).
    public let name: String
    /// Each feature's mean and variance (with Bessel's correction) over the batch.
    public let batchMean, batchVariance: [Double]
    /// Each feature's running mean and variance before the step.
    public let runningMean, runningVariance: [Double]

    /// The statistics of `layer`'s input, beside `runningMean` and `runningVariance`.
    public init(name: String, input: Tensor<Float>, runningMean: Tensor<Float>, runningVariance: Tensor<Float>) {
        self.name = name
        let features = input.columns, rows = input.count / Swift.max(features, 1)
        var means = [Double](repeating: 0, count: features), variances = [Double](repeating: 0, count: features)
        for j in 0..<features {
            var sum = 0.0
            for i in 0..<rows { sum += Double(input.pointer[i * features + j]) }
            let mean = sum / Double(Swift.max(rows, 1))
            var squares = 0.0
            for i in 0..<rows {
                let d = Double(input.pointer[i * features + j]) - mean
                squares += d * d
            }
            means[j] = mean
            variances[j] = rows > 1 ? squares / Double(rows - 1) : 0
        }
        batchMean = means
        batchVariance = variances
        self.runningMean = runningMean.array.map(Double.init)
        self.runningVariance = runningVariance.array.map(Double.init)
    }
}

/// Everything the diagnostics measure at one step.
public struct DiagnosticsSnapshot: Equatable, Sendable {
    /// The step after which it was taken (the statistics are of that step's batch and gradients).
    public let step: Int
    /// The learning rate of that step.
    public let learningRate: Double
    /// The loss of the batch.
    public let loss: Float
    /// Each nonlinearity, in the order of the forward.
    public let nonlinearities: [NonlinearityStatistics]
    /// Each weight matrix, in the order of the parameter table.
    public let weights: [WeightStatistics]
    /// Each batch-norm layer (none for a model without).
    public let batchNorms: [BatchNormStatistics]
}

/// The diagnostics of a run, collected every `interval` steps and at the last: one extra plain
/// forward and backward on a copy of the model with the step's batch (`prepare`, before the step)
/// and the update the step made (`record`, after it). The model trained is only read, so the run
/// ends exactly as it would without them.
public final class Diagnostics {
    /// Steps between two snapshots.
    public let interval: Int
    /// The snapshots, in the order of their steps.
    public private(set) var snapshots: [DiagnosticsSnapshot] = []
    /// Seconds spent taking them (`prepare` and `record`): what the diagnostics add to a run
    /// besides writing their files.
    public private(set) var seconds = 0.0

    /// Diagnostics every `interval` steps (at least 1).
    public init(interval: Int) {
        precondition(interval >= 1)
        self.interval = interval
    }

    /// Whether the step that ends at `step` (of `lastStep`) is one to look at: the first, every
    /// `interval`-th and the last.
    public func isDue(step: Int, lastStep: Int) -> Bool {
        step == 1 || step % interval == 0 || step == lastStep
    }

    /// The weight matrices of `model`: its trainable parameters of two dimensions, both above 1
    /// (the lecture's `p.ndim == 2`; batch-norm's `(1, n)` gain and bias are not matrices).
    public static func weightMatrices(of model: any LanguageModel) -> [ParameterTable<Float>.Entry] {
        model.parameters.entries.filter { $0.spec.isTrainable && $0.shape.count == 2 && $0.shape.allSatisfy { $0 > 1 } }
    }

    /// What `prepare` measured before a step, waiting for the step's update.
    public struct Pending {
        let copy: any LanguageModel
        let loss: Float
        let nonlinearities: [NonlinearityStatistics]
        let batchNorms: [BatchNormStatistics]
    }

    /// Before a step on `batch`: a copy of `model` runs the plain forward and backward on it and
    /// the activations, their gradients and batch-norm's statistics are measured. `model` is not touched.
    public func prepare(model: any LanguageModel, batch: any Minibatch) -> Pending {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let copy = model.independentCopy()
        let loss = copy.plainForwardBackward(on: batch)
        // Running statistics before the step: `model`'s, at the offsets of the copy's views.
        let batchNorms = copy.batchNormInputs.map { layer in
            BatchNormStatistics(
                name: layer.name, input: layer.input,
                runningMean: Tensor(shape: layer.runningMean.shape, storage: model.parameters.values, offset: layer.runningMean.offset),
                runningVariance: Tensor(
                    shape: layer.runningVariance.shape, storage: model.parameters.values, offset: layer.runningVariance.offset))
        }
        return Pending(copy: copy, loss: loss, nonlinearities: copy.nonlinearities.map(NonlinearityStatistics.init), batchNorms: batchNorms)
    }

    /// After the step `step` that `pending` looked at, taken with `learningRate`: the weight
    /// matrices' gradients (the copy's) and the update the step made to `model`, kept as a snapshot.
    @discardableResult
    public func record(_ pending: Pending, model: any LanguageModel, step: Int, learningRate: Double) -> DiagnosticsSnapshot {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let before = pending.copy.parameters, after = model.parameters
        let weights = Diagnostics.weightMatrices(of: model).map { entry in
            let old = Tensor<Float>(shape: entry.shape, storage: before.values, offset: entry.offset)
            let new = Tensor<Float>(shape: entry.shape, storage: after.values, offset: entry.offset)
            let update = Tensor<Float>(shape: [entry.shape.reduce(1, *)])
            for i in 0..<update.count { update[i] = new.pointer[i] - old.pointer[i] }
            let ratio = log10(Moments(update).std / Moments(old).std)
            return WeightStatistics(
                name: entry.name, values: old, gradient: Tensor(shape: entry.shape, storage: before.gradients, offset: entry.offset),
                updateToData: ratio)
        }
        let snapshot = DiagnosticsSnapshot(
            step: step, learningRate: learningRate, loss: pending.loss, nonlinearities: pending.nonlinearities, weights: weights,
            batchNorms: pending.batchNorms)
        snapshots.append(snapshot)
        return snapshot
    }

    /// A snapshot of `model` on `batch` without changing it (a checkpoint): the update ratio is
    /// that of the step `optimizer` would make at `learningRate` from `state` (the checkpoint's
    /// moments; fresh when nil), taken on a copy: `lr · grad` for SGD, the lecture's
    /// `log10(std(lr · grad) / std(data))`.
    public static func inspect(
        model: any LanguageModel, batch: any Minibatch, step: Int, optimizer: Optimizer, state: OptimizerState<Float>?,
        learningRate: Double
    ) -> DiagnosticsSnapshot {
        let diagnostics = Diagnostics(interval: 1)
        let pending = diagnostics.prepare(model: model, batch: batch)
        let stepped = pending.copy.independentCopy()  // the values before the step, then after it
        stepped.parameters.gradients.base.update(from: pending.copy.parameters.gradients.base, count: stepped.parameters.gradients.count)
        let moments = OptimizerState<Float>(for: optimizer, table: stepped.parameters)
        if let state, optimizer != .sgd, state.fits(optimizer, table: stepped.parameters) {
            moments.firstMoment.base.update(from: state.firstMoment.base, count: moments.firstMoment.count)
            moments.secondMoment.base.update(from: state.secondMoment.base, count: moments.secondMoment.count)
            moments.step = state.step
        }
        moments.update(stepped.parameters, with: optimizer, learningRate: learningRate)
        return diagnostics.record(pending, model: stepped, step: step, learningRate: learningRate)
    }

    /// One line for each problem the snapshots show, in words: saturated tanh or gates, dead
    /// units, update ratios far from the lecture's -3 (judged on the last snapshot, and for the
    /// ratios on the mean of the last quarter of the snapshots, which smooths one batch's noise).
    public static func warnings(_ snapshots: [DiagnosticsSnapshot]) -> [String] {
        guard let last = snapshots.last else { return [] }
        var lines: [String] = []
        for n in last.nonlinearities {
            if n.kind.saturates && n.saturatedShare > 0.1 {
                lines.append(String(
                    format: "%@: %.0f%% of the outputs are saturated: little gradient flows back through them; a smaller learning rate, "
                        + "a smaller initialization of the layer before it (the lecture's 5/3 / √fan_in) or batch-norm keeps them in range",
                    n.name, 100 * n.saturatedShare))
            }
            if n.deadUnits > 0 {
                lines.append(
                    "\(n.name): \(n.deadUnits) of \(n.units) units are dead (flat for every example of the batch): they no longer learn; "
                        + "a smaller learning rate or initialization keeps them alive")
            }
        }
        let recent = snapshots.suffix(Swift.max(1, snapshots.count / 4))
        for (index, weight) in last.weights.enumerated() {
            let ratios = recent.compactMap { $0.weights.indices.contains(index) ? $0.weights[index].updateToData : nil }.filter(\.isFinite)
            guard !ratios.isEmpty else { continue }
            let mean = ratios.reduce(0, +) / Double(ratios.count)
            if mean > -2 {
                lines.append(String(
                    format: "%@: updates are 10^%.1f of the values, far above the guide of 10^-3: the learning rate is too large "
                        + "(about %.0fx); try a smaller --lr", weight.name, mean, pow(10, mean + 3)))
            } else if mean < -4 {
                let highest = snapshots.map(\.learningRate).max() ?? last.learningRate
                let decayed = last.learningRate < highest ? String(format: " (the schedule has brought it down to %g)", last.learningRate) : ""
                lines.append(String(
                    format: "%@: updates are 10^%.1f of the values, far below the guide of 10^-3: the learning rate is too small%@ "
                        + "or the layer has stopped learning; try a larger --lr", weight.name, mean, decayed))
            }
        }
        return lines
    }
}
