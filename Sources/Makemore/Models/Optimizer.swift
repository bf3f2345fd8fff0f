import Foundation

/// How a training step moves the trainable parameters: the lecture's plain SGD, or AdamW as
/// makemore trains (`torch.optim.AdamW(lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01)`).
/// Part of `TrainingOptions`; the state AdamW keeps between steps is an `OptimizerState`.
public enum Optimizer: Equatable, Sendable {
    /// `p -= lr · dp` (see `SGD`), which a model's fast step may fold into its backward.
    case sgd
    /// AdamW with these hyper-parameters, applied after the model's forward and backward.
    case adamW(AdamW)

    /// The name on the command line (`--optimizer`) and in a checkpoint's metadata.
    public var name: String {
        switch self {
        case .sgd: "sgd"
        case .adamW: "adamw"
        }
    }

    /// `sgd`, or `adamw (betas 0.9, 0.99, eps 1e-08, weight decay 0.01)`.
    public var summary: String {
        switch self {
        case .sgd: "sgd"
        case .adamW(let a): "adamw (betas \(a.beta1), \(a.beta2), eps \(a.epsilon), weight decay \(a.weightDecay))"
        }
    }

    /// Throws a message naming the option (`--betas`, `--adam-eps`, `--weight-decay`) out of range.
    public func validate() throws {
        guard case .adamW(let a) = self else { return }
        for (value, which) in [(a.beta1, "first"), (a.beta2, "second")] where !(value >= 0 && value < 1) {
            throw MakemoreError("--betas: the \(which) beta must be in [0, 1), got \(value)")
        }
        if !(a.epsilon >= 0 && a.epsilon.isFinite) { throw MakemoreError("--adam-eps must be 0 or more, got \(a.epsilon)") }
        if !(a.weightDecay >= 0 && a.weightDecay.isFinite) {
            throw MakemoreError("--weight-decay must be 0 or more, got \(a.weightDecay)")
        }
    }
}

/// AdamW's hyper-parameters and its update, PyTorch's single-tensor algorithm
/// (`torch/optim/adam.py`, `_single_tensor_adam` with decoupled weight decay), step `t` counted
/// from 1, for every trainable element `p` with gradient `g`:
///
///     p  = p · (1 - lr·weightDecay)                      decoupled decay, every trainable parameter
///     m  = m + (1 - β1)·(g - m)                          exp_avg.lerp_(g, 1 - β1)
///     v  = β2·v + (1 - β2)·g·g                           exp_avg_sq.mul_(β2).addcmul_(g, g, value=1 - β2)
///     p  = p - (lr / (1 - β1^t)) · m / (√v / √(1 - β2^t) + eps)
///
/// in Float as PyTorch computes it: the scalars (`1 - lr·wd`, `lr / (1 - β1^t)`, `√(1 - β2^t)`)
/// in Double, then rounded to Float; `m` and `v` with the fused multiply-adds of PyTorch's
/// vectorised CPU kernels (`fma(1 - β1, g - m, m)`, `fma((1 - β2)·g, g, β2·v)`), the rest one
/// rounding per operation in that order. reference/adamw_parity.py holds it to PyTorch.
public struct AdamW: Equatable, Sendable {
    /// `β1`, the decay of the first moment (`exp_avg`).
    public var beta1: Double
    /// `β2`, the decay of the second moment (`exp_avg_sq`).
    public var beta2: Double
    /// Added to `√v̂` in the denominator.
    public var epsilon: Double
    /// The decoupled decay: every trainable parameter is scaled by `1 - lr·weightDecay` each step.
    public var weightDecay: Double

    /// makemore's: betas (0.9, 0.99), eps 1e-8, weight decay 0.01.
    public init(beta1: Double = 0.9, beta2: Double = 0.99, epsilon: Double = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// makemore's learning rate for AdamW, the default when `--optimizer adamw` comes without `--lr`.
    public static let defaultLearningRate = 5e-4

    /// Step `step` (1 for the first) on `count` elements: `values` moved against `gradients`, the
    /// moments `exp_avg` and `exp_avg_sq` updated in place. On the C kernels of `KernelVariant.active`
    /// for `Float`.
    public func update<T: Scalar>(
        values: UnsafeMutablePointer<T>, gradients: UnsafePointer<T>, exp_avg m: UnsafeMutablePointer<T>,
        exp_avg_sq v: UnsafeMutablePointer<T>, count: Int, step: Int, learningRate: Double
    ) {
        update(
            kernels: .for(T.self), values: values, gradients: gradients, exp_avg: m, exp_avg_sq: v, count: count, step: step,
            learningRate: learningRate)
    }

    /// `update` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (the reference,
    /// and the `Double` path): the same operations, so the same bits.
    func update<T: Scalar>(
        kernels: KernelVariant?, values: UnsafeMutablePointer<T>, gradients: UnsafePointer<T>,
        exp_avg m: UnsafeMutablePointer<T>, exp_avg_sq v: UnsafeMutablePointer<T>, count: Int, step: Int,
        learningRate: Double
    ) {
        precondition(step >= 1, "AdamW counts steps from 1")
        let decay = T(1 - learningRate * weightDecay)
        let w1 = T(1 - beta1), b2 = T(beta2), w2 = T(1 - beta2)
        let correction1 = 1 - Foundation.pow(beta1, Double(step))
        let correction2 = 1 - Foundation.pow(beta2, Double(step))
        let negativeStepSize = T(-(learningRate / correction1))
        let correction2Root = T(Foundation.pow(correction2, 0.5))
        let eps = T(epsilon)
        let decays = weightDecay != 0
        if let kernels {
            kernels.adamWUpdate(
                values: values.floats, gradients: gradients.floats, firstMoment: m.floats, secondMoment: v.floats,
                count: count, decay: decays ? Float(decay) : nil, w1: Float(w1), b2: Float(b2), w2: Float(w2),
                negativeStepSize: Float(negativeStepSize), correction2Root: Float(correction2Root), eps: Float(eps))
            return
        }
        // 16 elements at a time, each lane the same operations as the scalar loop below (the
        // tail), so the result does not depend on where the vector chunks fall.
        typealias V = SIMD16<T>
        var i = 0
        while i + V.scalarCount <= count {
            let g = UnsafeRawPointer(gradients + i).loadUnaligned(as: V.self)
            var p = UnsafeRawPointer(values + i).loadUnaligned(as: V.self)
            var mi = UnsafeRawPointer(m + i).loadUnaligned(as: V.self)
            var vi = UnsafeRawPointer(v + i).loadUnaligned(as: V.self)
            if decays { p *= decay }
            mi = mi.addingProduct(V(repeating: w1), g - mi)
            vi = (b2 * vi).addingProduct(w2 * g, g)
            let denominator = vi.squareRoot() / correction2Root + eps
            p += negativeStepSize * mi / denominator
            UnsafeMutableRawPointer(values + i).storeBytes(of: p, as: V.self)
            UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
            i += V.scalarCount
        }
        while i < count {
            let g = gradients[i]
            let p = decays ? values[i] * decay : values[i]
            let mi = m[i].addingProduct(w1, g - m[i])
            let vi = (b2 * v[i]).addingProduct(w2 * g, g)
            m[i] = mi
            v[i] = vi
            let denominator = vi.squareRoot() / correction2Root + eps
            values[i] = p + negativeStepSize * mi / denominator
            i += 1
        }
    }
}

/// What an optimizer keeps between steps, for one parameter table: AdamW's moments (`exp_avg`,
/// `exp_avg_sq`) in the layout of the table's trainable part, and the number of AdamW steps
/// taken (its bias corrections count from it). SGD keeps nothing. The trainer owns it and the
/// checkpoint saves it (`optimizer.exp_avg.<name>`, `optimizer.exp_avg_sq.<name>`,
/// `optimizer_step`), so any model trains with any optimizer and resumes bit for bit.
public final class OptimizerState<T: Scalar> {
    /// AdamW steps taken.
    public internal(set) var step: Int
    /// First moments, `exp_avg` (`trainableCount` elements, the table's offsets; empty for SGD).
    public let firstMoment: TensorStorage<T>
    /// Second moments, `exp_avg_sq`, in the same layout.
    public let secondMoment: TensorStorage<T>

    /// A fresh state (zero moments, no step) for training `table` with `optimizer`.
    public init(for optimizer: Optimizer, table: ParameterTable<T>) {
        let count = optimizer == .sgd ? 0 : table.trainableCount
        step = 0
        firstMoment = TensorStorage(count: count, repeating: 0)
        secondMoment = TensorStorage(count: count, repeating: 0)
    }

    /// Whether this state has what `optimizer` needs for `table` (a state saved under SGD has no moments).
    public func fits(_ optimizer: Optimizer, table: ParameterTable<T>) -> Bool {
        optimizer == .sgd || firstMoment.count == table.trainableCount
    }

    /// The view of a moment (`firstMoment` or `secondMoment`) of the table's tensor `entry`.
    public func moment(_ storage: TensorStorage<T>, of entry: ParameterTable<T>.Entry) -> Tensor<T> {
        Tensor(shape: entry.shape, storage: storage, offset: entry.offset)
    }

    /// Moves every trainable parameter of `table` against its gradient with `optimizer`: the
    /// update a model's `trainingStep` does not fold into its backward. No allocation.
    public func update(_ table: ParameterTable<T>, with optimizer: Optimizer, learningRate: Double) {
        switch optimizer {
        case .sgd:
            SGD.step(table, learningRate: T(learningRate))
        case .adamW(let adamW):
            precondition(fits(optimizer, table: table), "the optimizer state does not fit the table")
            step += 1
            adamW.update(
                values: table.values.base, gradients: table.gradients.base, exp_avg: firstMoment.base,
                exp_avg_sq: secondMoment.base, count: table.trainableCount, step: step, learningRate: learningRate)
        }
    }
}
