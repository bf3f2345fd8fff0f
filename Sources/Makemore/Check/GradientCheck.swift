/// One row of the gradient check: a tensor, its hand-written gradient against a reference.
public struct GradientCheckRow: Sendable {
    /// What the hand-written gradient was compared with.
    public enum Reference: String, Sendable {
        /// Central finite differences of the step-by-step forward, in Double.
        case finiteDifferences = "finite differences"
        /// The model's training code (its layers' fused backward) against the step-by-step backward.
        case fused = "model (fused layers) vs step-by-step"
    }

    /// The tensor's name in the pass (`C`, `W1`, `hpreact1`, `dlogits`, ...).
    public let name: String
    /// The tensor's shape.
    public let shape: [Int]
    /// What the gradient was compared with.
    public let reference: Reference
    /// The largest absolute difference between the two gradients.
    public let maxDifference: Double
    /// The largest absolute element of the reference gradient.
    public let scale: Double
    /// The largest difference that passes: `relativeTolerance · max(1, scale)`.
    public let tolerance: Double

    /// Whether `maxDifference <= tolerance`.
    public var passed: Bool { maxDifference <= tolerance }
}

/// Checks every hand-written gradient of one batch against an independent reference.
///
/// The model is run in Double, so that what is measured is the derivation, not float rounding.
/// For each tensor, every element `x` is nudged in turn, everything computed after it is
/// computed again, and the five-point central difference
///
///     D(h) = (-L(x+2h) + 8 L(x+h) - 8 L(x-h) + L(x-2h)) / 12h      (error of order h⁴)
///
/// is compared with the hand-written gradient. The step starts at `h = step · max(|x|, 0.01)`
/// and is halved until two successive estimates agree to `agreement · max(1, |D|)`, keeping the
/// pair that agreed best: where the loss is very curved (a batch-norm variance near zero, a
/// batch of two) a fixed step would measure the curvature instead of the slope.
public struct GradientCheck {
    /// The first finite-difference step, relative to the element: `h = step · max(|x|, 0.01)`.
    public var step: Double = 1e-4
    /// Two successive estimates agree when they differ by at most `agreement · max(1, |D|)`.
    public var agreement: Double = 1e-8
    /// The most times the step is halved looking for two estimates that agree.
    public var maxHalvings = 12
    /// A row passes when `maxdiff <= relativeTolerance · max(1, max |reference|)`.
    public var relativeTolerance: Double = 1e-6

    /// A check with the first step `step` and the pass mark `relativeTolerance`.
    public init(step: Double = 1e-4, relativeTolerance: Double = 1e-6) {
        self.step = step
        self.relativeTolerance = relativeTolerance
    }

    /// Every row of `pass`, in order; `report` sees each as soon as it is computed.
    public func run(_ pass: some GradientPass<Double>, report: (GradientCheckRow) -> Void = { _ in }) -> [GradientCheckRow] {
        let gradients = pass.backward()
        var rows: [GradientCheckRow] = []
        for name in pass.gradientOrder {
            let handWritten = gradients[name]!
            let reference = finiteDifferences(pass, name)
            rows.append(row(name, handWritten, reference, .finiteDifferences))
            report(rows.last!)
        }
        for (name, gradient) in pass.modelGradients() {
            rows.append(row(name, gradient, gradients[name]!, .fused))
            report(rows.last!)
        }
        return rows
    }

    /// dloss/dvalue for each element of the tensor `name` of `pass`, by central differences.
    public func finiteDifferences(_ pass: some GradientPass<Double>, _ name: String) -> Tensor<Double> {
        let perturbed = pass.values[name]!.copy()
        let result = Tensor<Double>(shape: perturbed.shape)
        for k in 0..<perturbed.count {
            let original = perturbed[k]
            var losses: [Double: Double] = [:]  // by offset from x, reused as h halves
            func loss(at offset: Double) -> Double {
                if let known = losses[offset] { return known }
                perturbed[k] = original + offset
                let value = pass.loss(replacing: name, with: perturbed)
                losses[offset] = value
                return value
            }
            func difference(_ h: Double) -> Double {
                (-loss(at: 2 * h) + 8 * loss(at: h) - 8 * loss(at: -h) + loss(at: -2 * h)) / (12 * h)
            }
            var h = step * Swift.max(Swift.abs(original), 0.01)
            var previous = difference(h)
            var best = previous, bestChange = Double.infinity
            for _ in 0..<maxHalvings {
                h /= 2
                let current = difference(h)
                let change = Swift.abs(current - previous)
                if change < bestChange { (best, bestChange) = (current, change) }
                if change <= agreement * Swift.max(1, Swift.abs(current)) { break }
                previous = current
            }
            perturbed[k] = original
            result[k] = best
        }
        return result
    }

    private func row(
        _ name: String, _ value: Tensor<Double>, _ reference: Tensor<Double>, _ kind: GradientCheckRow.Reference
    ) -> GradientCheckRow {
        precondition(value.shape == reference.shape, "\(name): \(value.shape) vs \(reference.shape)")
        let scale = reference.maxAbs
        return GradientCheckRow(
            name: name, shape: value.shape, reference: kind, maxDifference: value.maxAbsDifference(reference),
            scale: scale, tolerance: relativeTolerance * Swift.max(1, scale))
    }
}
