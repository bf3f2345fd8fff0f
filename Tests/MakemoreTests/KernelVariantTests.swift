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

    /// The AVX-512 build runs products of 16 columns or more on 16-lane tiles (48 columns, then one
    /// of 16, 32, 48 or 64), the AVX2 build on 8-lane ones: the same bits, every column count
    /// across those tile widths, rows past a tile's 4 and 8, and depths across the packing blocks
    /// (128 and 256); with `b` packed (64 rows, 65,536 elements) and read in place.
    @Test(arguments: [(9, 13), (4, 30), (33, 27), (17, 300), (64, 1100)])
    func wideTilesGiveTheBitsOfEightLaneTiles(size: (Int, Int)) {
        let fused = KernelVariant.supported.filter { $0 != .portable }
        guard fused.count == 2 else { return }
        let (m, k) = size
        for n in (1...140).filter({ $0 <= 72 || $0 % 7 == 0 || m == 64 && $0 % 29 == 0 }) {
            var g = SeededGenerator(seed: UInt64(m * 1_000_000 + k * 1000 + n))
            let a: Tensor<Float> = randomTensor([m, k], &g), b: Tensor<Float> = randomTensor([k, n], &g)
            let bt: Tensor<Float> = randomTensor([n, k], &g), at: Tensor<Float> = randomTensor([k, m], &g)
            let start: Tensor<Float> = randomTensor([m, n], &g)
            let results = fused.map { variant in
                let c1 = start.copy(), c2 = start.copy(), c3 = start.copy(), c4 = start.copy()
                variant.matmul(a.pointer, b.pointer, into: c1.pointer, m: m, k: k, n: n, ldb: n, ldc: n, accumulate: true)
                variant.matmulTransposedA(
                    at.pointer, b.pointer, into: c2.pointer, m: m, k: k, n: n, lda: m, ldb: n, ldc: n, accumulate: true)
                variant.matmulTransposedB(a.pointer, bt.pointer, into: c3.pointer, m: m, k: k, n: n, ldb: k, ldc: n, accumulate: true)
                variant.matmul(a.pointer, b.pointer, into: c4.pointer, m: m, k: k, n: n, ldb: n, ldc: n, accumulate: false)
                return [c1, c2, c3, c4].map(Self.bits)
            }
            #expect(results[0] == results[1], "(m,k,n) = (\(m),\(k),\(n))")
        }
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

    /// The element-wise passes of the fast steps in C give the bits of their plain Swift loops:
    /// Linear's bias and bias gradient, Tanh's backward on a slice of columns, the SGD step, `add`,
    /// the embedding's scatter-add (with repeated rows) and the cross-entropy on all rows and on some
    /// (against the plain loops where they exponentiate as the variant does).
    @Test(arguments: [(1, 1), (2, 3), (7, 17), (32, 27), (3, 33), (32, 200), (5, 64)])
    func elementwisePassesMatchThePlainLoopsBitForBit(size: (Int, Int)) {
        let (n, w) = size, vocabulary = 5, blockSize = 3
        /// Every output of every pass, run on `kernels` (nil: the plain loops), from the same inputs.
        func outputs(_ kernels: KernelVariant?) -> [(String, [UInt32])] {
            var g = SeededGenerator(seed: UInt64(n * 1000 + w))
            let linear = Linear<Float>(
                weight: Tensor(shape: [1, w + 2]), bias: randomTensor([w + 2], &g), dWeight: Tensor(shape: [1, w + 2]),
                dBias: Tensor(shape: [w + 2]))
            let outputs = 1..<(w + 1)
            let biased = Tensor<Float>(shape: [n, w], repeating: 7), dOut: Tensor<Float> = randomTensor([n, w], &g)
            linear.setBias(kernels: kernels, into: biased, outputs: outputs, rows: n > 1 ? 1..<n : nil)
            linear.biasGradient(kernels: kernels, dOut: dOut, outputs: outputs)

            let h = (randomTensor([n, w + 2], &g) as Tensor<Float>).tanh(), dH: Tensor<Float> = randomTensor([n, w + 2], &g)
            let dPreact = Tensor<Float>(shape: [n, w + 2], repeating: 7)
            Tanh.backward(kernels: kernels, out: h, dOut: dH, dX: dPreact, columns: 1..<(w + 1))

            let p: Tensor<Float> = randomTensor([n, w], &g), dp: Tensor<Float> = randomTensor([n, w], &g)
            SGD.step(kernels: kernels, p.pointer, dp.pointer, learningRate: 0.1, count: p.count)
            let total: Tensor<Float> = randomTensor([n, w], &g)
            VectorMath.add(kernels: kernels, dp.pointer, into: total.pointer, count: total.count)

            let embedding = Embedding<Float>(table: Tensor(shape: [vocabulary, w]), dTable: randomTensor([vocabulary, w], &g))
            let contexts = (0..<n * blockSize).map { _ in Int32(g.next() % UInt64(vocabulary)) }
            let dEmbcat: Tensor<Float> = randomTensor([n, blockSize * w], &g)
            embedding.backward(kernels: kernels, contexts: contexts, blockSize: blockSize, dOut: dEmbcat)

            let logits: Tensor<Float> = randomTensor([n, w], &g, scale: 3)
            let targets = (0..<n).map { _ in Int32(g.next() % UInt64(w)) }
            let probs = Tensor<Float>(shape: [n, w]), dLogits = Tensor<Float>(shape: [n, w], repeating: 7)
            let losses = Tensor<Float>(shape: [n], repeating: 7)
            let some = n > 2 ? 1..<(n - 1) : 0..<n
            CrossEntropy.forward(kernels: kernels, logits: logits, targets: targets, probs: probs, rows: some, losses: losses.pointer)
            CrossEntropy.backward(kernels: kernels, probs: probs, targets: targets, dLogits: dLogits, rows: some)
            let allProbs = Tensor<Float>(shape: [n, w]), allDLogits = Tensor<Float>(shape: [n, w])
            let allLosses = Tensor<Float>(shape: [n])
            CrossEntropy.forward(
                kernels: kernels, logits: logits, targets: targets, probs: allProbs, rows: 0..<n, losses: allLosses.pointer)
            CrossEntropy.backward(kernels: kernels, probs: allProbs, targets: targets, dLogits: allDLogits, rows: nil)
            return [
                ("setBias", biased), ("biasGradient", linear.dBias!), ("tanh backward", dPreact), ("SGD", p),
                ("add", total), ("scatter-add", embedding.dTable), ("probs", probs), ("losses", losses),
                ("dLogits", dLogits), ("all probs", allProbs), ("all losses", allLosses), ("all dLogits", allDLogits),
            ].map { ($0.0, Self.bits($0.1)) }
        }
        let plain = outputs(nil)
        for variant in KernelVariant.supported {
            // The plain cross-entropy exponentiates with `T.exp`, the active variant's `exp`: where one
            // of the two is the portable build (unfused) and the other is not, their exps differ in
            // the last bits, and so do the probabilities.
            let sameExp = (variant == .portable) == (KernelVariant.active == .portable)
            for ((name, fast), (_, reference)) in zip(outputs(variant), plain) {
                if !sameExp && ["probs", "losses", "dLogits"].contains(where: name.hasSuffix) { continue }
                #expect(fast == reference, "\(name): \(variant), (n, w) = \(size)")
            }
        }
    }

    /// The AdamW update in C gives the bits of `AdamW.update`'s Swift loop (sixteen lanes, then a
    /// scalar tail): with and without weight decay, at its first and a later step, at counts below,
    /// at and past the vector width.
    @Test(arguments: [1, 5, 15, 16, 17, 31, 33, 100])
    func adamWMatchesThePlainLoopBitForBit(count: Int) {
        for variant in KernelVariant.supported {
            for (weightDecay, step) in [(0.0, 1), (0.1, 1), (0.01, 7)] {
                let adamW = AdamW(weightDecay: weightDecay)
                /// Values, first and second moments after one update on `kernels` (nil: plain Swift).
                func updated(_ kernels: KernelVariant?) -> [[UInt32]] {
                    var g = SeededGenerator(seed: UInt64(count * 100 + step))
                    let p: Tensor<Float> = randomTensor([count], &g), dp: Tensor<Float> = randomTensor([count], &g, scale: 0.1)
                    let m: Tensor<Float> = randomTensor([count], &g, scale: 0.01)
                    let v = (randomTensor([count], &g, scale: 0.01) as Tensor<Float>).map { $0 * $0 }
                    adamW.update(
                        kernels: kernels, values: p.pointer, gradients: dp.pointer, exp_avg: m.pointer, exp_avg_sq: v.pointer,
                        count: count, step: step, learningRate: 1e-3)
                    return [p, m, v].map(Self.bits)
                }
                #expect(updated(variant) == updated(nil), "\(variant), count \(count), weight decay \(weightDecay), step \(step)")
            }
        }
    }

    /// GELU's forward and backward in C give the bits of its Swift loops, at counts below, at and
    /// past sixteen lanes; the backward written and added, the forward keeping `tanh u` apart and in
    /// `out`. The plain forward takes `tanh` from the active variant: compared where the variant's
    /// tanh is the same (both fused or both not).
    @Test(arguments: [1, 7, 16, 17, 40, 256])
    func geluMatchesThePlainLoopsBitForBit(count: Int) {
        /// Forward (out, tanh, out with tanh in place) and backward (written, added) on `kernels`.
        func outputs(_ kernels: KernelVariant?) -> [[UInt32]] {
            var g = SeededGenerator(seed: UInt64(count))
            let x: Tensor<Float> = randomTensor([count], &g, scale: 3), dOut: Tensor<Float> = randomTensor([count], &g)
            let out = Tensor<Float>(shape: [count]), t = Tensor<Float>(shape: [count]), alone = Tensor<Float>(shape: [count])
            GELU.forward(kernels: kernels, x.pointer, into: out.pointer, tanh: t.pointer, count: count)
            GELU.forward(kernels: kernels, x.pointer, into: alone.pointer, tanh: alone.pointer, count: count)
            let dX = Tensor<Float>(shape: [count], repeating: 7), dXAdded: Tensor<Float> = randomTensor([count], &g)
            GELU.backward(kernels: kernels, x: x.pointer, tanh: t.pointer, dOut: dOut.pointer, dX: dX.pointer, count: count, accumulate: false)
            GELU.backward(
                kernels: kernels, x: x.pointer, tanh: t.pointer, dOut: dOut.pointer, dX: dXAdded.pointer, count: count,
                accumulate: true)
            return [out, t, alone, dX, dXAdded].map(Self.bits)
        }
        let plain = outputs(nil)
        for variant in KernelVariant.supported where (variant == .portable) == (KernelVariant.active == .portable) {
            #expect(outputs(variant) == plain, "\(variant), count \(count)")
        }
    }

    /// The attention's forward and backward in C give the bits of its Swift loops, on words of 1 to
    /// 16 positions, over head sizes below, at and past eight lanes, on all words and on some.
    @Test(arguments: [(1, 1), (2, 3), (2, 8), (4, 16), (3, 17)])
    func attentionMatchesThePlainLoopsBitForBit(shape: (Int, Int)) {
        let (heads, headSize) = shape, width = heads * headSize
        let attention = CausalSelfAttention(heads: heads, width: width)
        let starts = [0, 1, 3, 10, 26, 31], rows = starts.last!
        var offsets = [0]
        for w in 0..<starts.count - 1 { offsets.append(offsets.last! + heads * (starts[w + 1] - starts[w]) * (starts[w + 1] - starts[w])) }
        for words in [0..<starts.count - 1, 2..<4] {
            /// att, y and dQKV on `kernels` (nil: plain Swift).
            func outputs(_ kernels: KernelVariant?) -> [[UInt32]] {
                var g = SeededGenerator(seed: UInt64(width))
                let qkv: Tensor<Float> = randomTensor([rows, 3 * width], &g, scale: 2), dY: Tensor<Float> = randomTensor([rows, width], &g)
                let att = Tensor<Float>(shape: [offsets.last!], repeating: 7), y = Tensor<Float>(shape: [rows, width], repeating: 7)
                let dQKV: Tensor<Float> = randomTensor([rows, 3 * width], &g), scratch = Tensor<Float>(shape: [16])
                attention.forward(
                    kernels: kernels, qkv: qkv.pointer, starts: starts, attentionOffsets: offsets, words: words, att: att.pointer,
                    into: y.pointer)
                attention.backward(
                    kernels: kernels, qkv: qkv.pointer, starts: starts, attentionOffsets: offsets, words: words, att: att.pointer,
                    dY: dY.pointer, dQKV: dQKV.pointer, scratch: scratch.pointer)
                return [att, y, dQKV].map(Self.bits)
            }
            let plain = outputs(nil)
            for variant in KernelVariant.supported {
                #expect(outputs(variant) == plain, "\(variant), heads \(heads) of \(headSize), words \(words)")
            }
        }
    }

    /// LayerNorm's forward and input gradient in C give the bits of its Swift loops, on widths below,
    /// at and past eight lanes, on all rows and on some.
    @Test(arguments: [1, 3, 8, 9, 64, 67])
    func layerNormMatchesThePlainLoopsBitForBit(width: Int) {
        let rows = 5
        for range in [0..<rows, 1..<4] {
            /// out, mean, rstd and dX on `kernels` (nil: plain Swift).
            func outputs(_ kernels: KernelVariant?) -> [[UInt32]] {
                var g = SeededGenerator(seed: UInt64(width))
                let norm = LayerNorm<Float>(
                    weight: randomTensor([width], &g, shift: 1), bias: randomTensor([width], &g), dWeight: Tensor(shape: [width]),
                    dBias: Tensor(shape: [width]), epsilon: 1e-5)
                let x: Tensor<Float> = randomTensor([rows, width], &g, scale: 2, shift: 0.5), dOut: Tensor<Float> = randomTensor([rows, width], &g)
                let out = Tensor<Float>(shape: [rows, width], repeating: 7), dX: Tensor<Float> = randomTensor([rows, width], &g)
                let mean = Tensor<Float>(shape: [rows], repeating: 7), rstd = Tensor<Float>(shape: [rows], repeating: 7)
                norm.forward(kernels: kernels, x.pointer, into: out.pointer, mean: mean.pointer, rstd: rstd.pointer, rows: range)
                norm.inputGradient(
                    kernels: kernels, x: x.pointer, mean: mean.pointer, rstd: rstd.pointer, dOut: dOut.pointer, dX: dX.pointer,
                    rows: range)
                return [out, mean, rstd, dX].map(Self.bits)
            }
            let plain = outputs(nil)
            for variant in KernelVariant.supported {
                #expect(outputs(variant) == plain, "\(variant), width \(width), rows \(range)")
            }
        }
    }
}
