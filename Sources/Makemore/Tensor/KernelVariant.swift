import Foundation
internal import CMakemoreKernels

/// The builds of the `Float` kernels (matrix products, `exp`, `tanh`, batch norm and the other
/// element-wise passes of a training step) in the C target
/// `CMakemoreKernels`, one per instruction set, all in every binary; `active` is the one the
/// library runs, chosen once.
///
/// - `portable`: the architecture's baseline. On x86-64 (SSE2) a multiply-add is a multiply and an
///   add, so its results differ in the last bits from the others; on arm64 it is the only one, with
///   NEON and fused multiply-adds.
/// - `avx2`, `avx512` (x86-64): fused multiply-adds; the same arithmetic in the same order, so the
///   two give the same bits. AVX-512 has the 32 vector registers the matrix tiles are sized for.
enum KernelVariant: String, CaseIterable, Sendable {
    case portable, avx2, avx512

    /// The variants this CPU can run, `portable` first.
    static let supported: [KernelVariant] = allCases.filter { makemore_kernel_variant_supported($0.c) != 0 }

    /// The variant the library runs: the one named by the environment variable `MAKEMORE_KERNELS`
    /// (`portable`, `avx2` or `avx512`) where this CPU supports it, else the last of `supported`.
    /// An unknown or unsupported name is reported on standard error and ignored.
    static let active: KernelVariant = {
        let best = supported.last ?? .portable
        // getenv, not ProcessInfo's environment: that copies the whole environment into a dictionary,
        // whose number of allocations varies with the environment and the run's hash seed.
        guard let value = getenv("MAKEMORE_KERNELS"), value.pointee != 0 else { return best }
        let name = String(cString: value)
        guard let variant = KernelVariant(rawValue: name), supported.contains(variant) else {
            let choices = supported.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(
                Data("makemore: MAKEMORE_KERNELS=\(name) is not one this CPU runs (\(choices)); using \(best.rawValue)\n".utf8))
            return best
        }
        return variant
    }()

    /// The kernels generic code on `T` runs: `active` for `Float`, nil (its plain Swift loops) for
    /// other scalars.
    @inline(__always)
    static func `for`<T>(_: T.Type) -> KernelVariant? { T.self == Float.self ? active : nil }

    var c: MakemoreKernelVariant {
        switch self {
        case .portable: .portable
        case .avx2: .AVX2
        case .avx512: .AVX512
        }
    }

    // MARK: Kernels (see include/CMakemoreKernels.h)

    /// `c (m,n) = a (m,k) @ b (k,n)`, or `c += a @ b` when `accumulate`; rows of `b`, `c` are `ldb`, `ldc` apart.
    func matmul(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, ldb: Int, ldc: Int, accumulate: Bool
    ) {
        makemore_matmul(self.c, a, b, c, m, k, n, ldb, ldc, accumulate ? 1 : 0)
    }

    /// `c (m,n) (+)= aᵀ @ b` where `a` is stored `(k,m)` with rows `lda` apart.
    func matmulTransposedA(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, lda: Int, ldb: Int, ldc: Int, accumulate: Bool
    ) {
        makemore_matmul_transposed_a(self.c, a, b, c, m, k, n, lda, ldb, ldc, accumulate ? 1 : 0)
    }

    /// `c (m,n) (+)= a (m,k) @ bᵀ` where `b` is stored `(n,k)` with rows `ldb` apart.
    func matmulTransposedB(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, ldb: Int, ldc: Int, accumulate: Bool
    ) {
        makemore_matmul_transposed_b(self.c, a, b, c, m, k, n, ldb, ldc, accumulate ? 1 : 0)
    }

    /// `out[i] = exp(x[i] - shift)` for `i < count`; returns the sum of the results.
    func exp(_ x: UnsafePointer<Float>, minus shift: Float, into out: UnsafeMutablePointer<Float>, count: Int) -> Float {
        makemore_exp(self.c, x, shift, out, count)
    }

    /// `out[i] = tanh(x[i])` for `i < count`.
    func tanh(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        makemore_tanh(self.c, x, out, count)
    }

    /// Batch normalisation's training forward over `features` columns of `(rows, ·)` tensors whose
    /// rows are `stride` apart (see `BatchNorm1d.forwardTraining`); every pointer at the first column.
    func batchNormForward(
        _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, xhat: UnsafeMutablePointer<Float>,
        inverseStd: UnsafeMutablePointer<Float>, gain: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        runningMean: UnsafeMutablePointer<Float>, runningVariance: UnsafeMutablePointer<Float>,
        rows: Int, stride: Int, features: Int, epsilon: Float, momentum: Float, updatingRunningStatistics: Bool
    ) {
        makemore_batch_norm_forward(
            c, x, out, xhat, inverseStd, gain, bias, runningMean, runningVariance, rows, stride, features, epsilon,
            momentum, updatingRunningStatistics ? 1 : 0)
    }

    /// Its backward (see `BatchNorm1d.backward`); `sumDOut`, `sumDXhat`, `scale` are scratch rows.
    func batchNormBackward(
        dOut: UnsafePointer<Float>, xhat: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
        gain: UnsafePointer<Float>, dGain: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
        sumDOut: UnsafeMutablePointer<Float>, sumDXhat: UnsafeMutablePointer<Float>, scale: UnsafeMutablePointer<Float>,
        dX: UnsafeMutablePointer<Float>, rows: Int, stride: Int, features: Int
    ) {
        makemore_batch_norm_backward(
            c, dOut, xhat, inverseStd, gain, dGain, dBias, sumDOut, sumDXhat, scale, dX, rows, stride, features)
    }

    // MARK: Element-wise passes (the reference of each is the Swift loop of its caller)

    /// `out[i·stride + j] = bias[j]` for `i < rows`, `j < width`.
    func broadcastRows(_ bias: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int, stride: Int, width: Int) {
        makemore_broadcast_rows(c, bias, out, rows, stride, width)
    }

    /// `sums[j] = Σi x[i·stride + j]` for `j < width`, over `i < rows` in order.
    func columnSums(_ x: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Float>, rows: Int, stride: Int, width: Int) {
        makemore_column_sums(c, x, sums, rows, stride, width)
    }

    /// `dX = (1 - h·h) · dOut` over `rows` rows of `width`.
    func tanhBackward(
        out h: UnsafePointer<Float>, dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, rows: Int, stride: Int,
        width: Int
    ) {
        makemore_tanh_backward(c, h, dOut, dX, rows, stride, width)
    }

    /// `p[i] -= learningRate · dp[i]` for `i < count`.
    func sgdStep(_ p: UnsafeMutablePointer<Float>, _ dp: UnsafePointer<Float>, learningRate: Float, count: Int) {
        makemore_sgd_step(c, p, dp, learningRate, count)
    }

    /// `total[i] += x[i]` for `i < count`.
    func add(_ x: UnsafePointer<Float>, into total: UnsafeMutablePointer<Float>, count: Int) {
        makemore_add(c, total, x, count)
    }

    /// `dTable[indices[p]·width + j] += dOut[p·width + j]` for `p < count`, `j < width`, in order of `p`.
    func scatterAddRows(
        indices: UnsafePointer<Int32>, count: Int, dOut: UnsafePointer<Float>, into dTable: UnsafeMutablePointer<Float>,
        width: Int
    ) {
        makemore_scatter_add_rows(c, indices, count, dOut, dTable, width)
    }

    /// Softmax and loss of `rows` rows of `columns` logits (see `CrossEntropy.forward`).
    func crossEntropyForward(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, probs: UnsafeMutablePointer<Float>,
        losses: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        makemore_cross_entropy_forward(c, logits, targets, probs, losses, rows, columns)
    }

    /// `dLogits = (probs - onehot(targets)) · scale` over `rows` rows of `columns`.
    func crossEntropyBackward(
        probs: UnsafePointer<Float>, targets: UnsafePointer<Int32>, dLogits: UnsafeMutablePointer<Float>, rows: Int,
        columns: Int, scale: Float
    ) {
        makemore_cross_entropy_backward(c, probs, targets, dLogits, rows, columns, scale)
    }

    /// AdamW's element update for `i < count` with one step's scalars (see `AdamW.update`): `decay`
    /// (nil: no weight decay), `w1 = 1 - β1`, `b2 = β2`, `w2 = 1 - β2`, `negativeStepSize`,
    /// `correction2Root`, `eps`.
    func adamWUpdate(
        values: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, firstMoment m: UnsafeMutablePointer<Float>,
        secondMoment v: UnsafeMutablePointer<Float>, count: Int, decay: Float?, w1: Float, b2: Float, w2: Float,
        negativeStepSize: Float, correction2Root: Float, eps: Float
    ) {
        var step = MakemoreAdamWStep(
            decay: decay ?? 1, first_weight: w1, beta2: b2, second_weight: w2, negative_step_size: negativeStepSize,
            correction2_root: correction2Root, epsilon: eps, decays: decay == nil ? 0 : 1)
        makemore_adamw_update(c, values, gradients, m, v, count, &step)
    }

    /// Causal self-attention's forward on one word of `positions` rows: `qkv (positions, 3C)` and
    /// `y (positions, C)` at its first row, `att (heads, positions, positions)` (see `CausalSelfAttention.forward`).
    func attentionForward(
        qkv: UnsafePointer<Float>, att: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>, positions: Int,
        heads: Int, headSize: Int
    ) {
        makemore_attention_forward(c, qkv, att, y, positions, heads, headSize)
    }

    /// Its backward on one word, added into `dQKV (positions, 3C)`; `scratch` holds `positions` floats.
    func attentionBackward(
        qkv: UnsafePointer<Float>, att: UnsafePointer<Float>, dY: UnsafePointer<Float>, dQKV: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, positions: Int, heads: Int, headSize: Int
    ) {
        makemore_attention_backward(c, qkv, att, dY, dQKV, scratch, positions, heads, headSize)
    }

    /// LayerNorm's forward on `rows` rows of `width` (see `LayerNorm.forward`); every pointer at the first row.
    func layerNormForward(
        _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
        rstd: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int, width: Int,
        epsilon: Float
    ) {
        makemore_layer_norm_forward(c, x, out, mean, rstd, weight, bias, rows, width, epsilon)
    }

    /// LayerNorm's input gradient on `rows` rows of `width`, added into `dX` (see `LayerNorm.inputGradient`).
    func layerNormInputGradient(
        x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, rows: Int, width: Int
    ) {
        makemore_layer_norm_input_gradient(c, x, mean, rstd, weight, dOut, dX, rows, width)
    }

    /// `out[i] = gelu(x[i])` and `tanh[i] = tanh u[i]` for `i < count` (see `GELU.forward`).
    func geluForward(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, tanh t: UnsafeMutablePointer<Float>, count: Int) {
        makemore_gelu_forward(c, x, out, t, count)
    }

    /// `dX (+)= dOut · gelu'(x)` for `i < count`, from `tanh = tanh u` (see `GELU.backward`).
    func geluBackward(
        x: UnsafePointer<Float>, tanh t: UnsafePointer<Float>, dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
        count: Int, accumulate: Bool
    ) {
        makemore_gelu_backward(c, x, t, dOut, dX, count, accumulate ? 1 : 0)
    }
}

extension UnsafeMutablePointer {
    /// The same memory seen as `Float`: for generic code on `T` where `T` is `Float`.
    @inline(__always) var floats: UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(self).assumingMemoryBound(to: Float.self)
    }
}

extension UnsafePointer {
    /// The same memory seen as `Float`: for generic code on `T` where `T` is `Float`.
    @inline(__always) var floats: UnsafePointer<Float> {
        UnsafeRawPointer(self).assumingMemoryBound(to: Float.self)
    }
}
