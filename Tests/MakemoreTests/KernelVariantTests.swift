import Testing

@testable import Makemore

/// The builds of the C kernels (`KernelVariant`) against each other and against plain Swift.
@Suite struct KernelVariantTests {
    /// The bits of a tensor's elements.
    static func bits(_ t: Tensor<Float>) -> [UInt32] { t.array.map(\.bitPattern) }

    @Test func portableIsAlwaysSupported() {
        #expect(KernelVariant.supported.first == .portable)
        #expect(KernelVariant.supported.contains(KernelVariant.active))
    }

    /// AVX2 and AVX-512 compute the same fused multiply-adds in the same order: the same bits, so
    /// a run gives the same losses on either (where this CPU has both).
    @Test(arguments: [(1, 1, 1), (9, 13, 7), (33, 30, 200), (32, 200, 27), (64, 257, 256), (17, 700, 90)])
    func avx2AndAVX512GiveTheSameBits(size: (Int, Int, Int)) {
        let fused = KernelVariant.supported.filter { $0 != .portable }
        guard fused.count == 2 else { return }
        let (m, k, n) = size
        var g = SeededGenerator(seed: UInt64(m * 1_000_000 + k * 1000 + n))
        let a: Tensor<Float> = randomTensor([m, k], &g), b: Tensor<Float> = randomTensor([k, n], &g)
        let bt: Tensor<Float> = randomTensor([n, k], &g), at: Tensor<Float> = randomTensor([k, m], &g)
        let start: Tensor<Float> = randomTensor([m, n], &g)
        let results = fused.map { variant in
            let c1 = start.copy(), c2 = start.copy(), c3 = start.copy()
            variant.matmul(a.pointer, b.pointer, into: c1.pointer, m: m, k: k, n: n, ldb: n, ldc: n, accumulate: true)
            variant.matmulTransposedA(
                at.pointer, b.pointer, into: c2.pointer, m: m, k: k, n: n, lda: m, ldb: n, ldc: n, accumulate: true)
            variant.matmulTransposedB(a.pointer, bt.pointer, into: c3.pointer, m: m, k: k, n: n, ldb: k, ldc: n, accumulate: false)
            let e = Tensor<Float>(shape: [m, n]), t = Tensor<Float>(shape: [m, n])
            let sum = variant.exp(c1.pointer, minus: 1, into: e.pointer, count: m * n)
            variant.tanh(c2.pointer, into: t.pointer, count: m * n)
            return [c1, c2, c3, e, t].map(Self.bits) + [[sum.bitPattern]]
        }
        #expect(results[0] == results[1], "(m,k,n) = \(size)")
    }

    /// The C batch norm gives the bits of `BatchNorm1d`'s plain Swift loops, on all features and on
    /// a slice of them, forward and backward.
    @Test(arguments: [(2, 1), (3, 7), (32, 17), (32, 200), (5, 64)])
    func batchNormMatchesThePlainLoopsBitForBit(size: (Int, Int)) {
        let (n, f) = size
        for variant in KernelVariant.supported {
            for features in [nil, f > 2 ? 1..<(f - 1) : nil] as [Range<Int>?] {
                var g = SeededGenerator(seed: UInt64(n * 1000 + f))
                let x: Tensor<Float> = randomTensor([n, f], &g, scale: 2, shift: 0.5)
                let dOut: Tensor<Float> = randomTensor([n, f], &g)
                func layer() -> BatchNorm1d<Float> {
                    var g = SeededGenerator(seed: 7)
                    let norm = BatchNorm1d<Float>(
                        gain: Tensor(shape: [1, f]), bias: Tensor(shape: [1, f]), runningMean: Tensor(shape: [1, f]),
                        runningVariance: Tensor(shape: [1, f]), dGain: Tensor(shape: [1, f]), dBias: Tensor(shape: [1, f]),
                        epsilon: 1e-5, momentum: 0.001)
                    norm.initialize(gainScale: 0.1, biasScale: 0.1, using: &g)
                    return norm
                }
                let fast = layer(), plain = layer()
                let buffers = (0..<2).map { _ in (0..<6).map { _ in Tensor<Float>(shape: [n, f]) } }
                let scratch = (0..<2).map { _ in Tensor<Float>(shape: [3, f]) }
                let inverseStd = (0..<2).map { _ in Tensor<Float>(shape: [1, f]) }
                fast.forwardTraining(
                    kernels: variant, x, into: buffers[0][0], xhat: buffers[0][1], inverseStd: inverseStd[0],
                    updatingRunningStatistics: true, features: features)
                plain.plainForwardTraining(
                    x, into: buffers[1][0], xhat: buffers[1][1], inverseStd: inverseStd[1],
                    updatingRunningStatistics: true, features: features)
                fast.backward(
                    kernels: variant, dOut: dOut, xhat: buffers[0][1], inverseStd: inverseStd[0], dX: buffers[0][2],
                    scratch: scratch[0], features: features)
                plain.plainBackward(
                    dOut: dOut, xhat: buffers[1][1], inverseStd: inverseStd[1], dX: buffers[1][2], scratch: scratch[1],
                    features: features)
                let what = "\(variant), (n, f) = \(size), features \(String(describing: features))"
                for (name, pair) in [
                    ("out", (buffers[0][0], buffers[1][0])), ("xhat", (buffers[0][1], buffers[1][1])),
                    ("dX", (buffers[0][2], buffers[1][2])), ("inverseStd", (inverseStd[0], inverseStd[1])),
                    ("scratch", (scratch[0], scratch[1])), ("runningMean", (fast.runningMean, plain.runningMean)),
                    ("runningVariance", (fast.runningVariance, plain.runningVariance)),
                    ("dGain", (fast.dGain, plain.dGain)), ("dBias", (fast.dBias, plain.dBias)),
                ] {
                    #expect(Self.bits(pair.0) == Self.bits(pair.1), "\(name): \(what)")
                }
            }
        }
    }
}
