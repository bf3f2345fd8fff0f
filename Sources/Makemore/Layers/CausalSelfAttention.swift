/// Multi-head causal self-attention, the part between makemore's `c_attn` and `c_proj` (the
/// two projections are `TorchLinear` layers around it), on the packed positions of a `WordBatch`.
///
/// `qkv (rows, 3C)` holds each position's query, key and value side by side (`c_attn`'s output,
/// split as `q, k, v = qkv.split(C, dim=2)`); head `h` owns features `h·hs ..< (h+1)·hs` of each,
/// `hs = C / heads`. In word `w`, the position `t` attends to its positions `u ≤ t`:
///
///     att[t, u] = softmax over u ≤ t of  q_t · k_u / √hs        (the causal mask: u > t is -∞)
///     y_t       = Σ_{u ≤ t} att[t, u] · v_u                      head h writes y's features h·hs ..< (h+1)·hs
///
/// Forward keeps `att`, the probabilities (`heads · T²` numbers per word of `T` positions, at
/// `attentionOffsets`); the backward needs them and `qkv`, the previous layer's output.
public struct CausalSelfAttention {
    /// Heads, each of `headSize` features.
    public let heads: Int
    /// `C`, the width of each of q, k, v and y (the heads side by side).
    public let width: Int

    /// `heads` heads over `width` features; `width` must be a multiple of `heads`.
    public init(heads: Int, width: Int) {
        precondition(heads >= 1 && width % heads == 0, "width \(width) is not a multiple of \(heads) heads")
        self.heads = heads
        self.width = width
    }

    /// Features per head.
    public var headSize: Int { width / heads }

    /// `[count + 1]`: where word `w`'s probabilities `(heads, T, T)` start in `att`; the last is its size.
    public func attentionOffsets(_ batch: WordBatch) -> [Int] {
        var offsets = [0]
        for w in 0..<batch.count {
            let t = batch.positions(ofWord: w).count
            offsets.append(offsets.last! + heads * t * t)
        }
        return offsets
    }

    /// `y (rows, C)` from `qkv (rows, 3C)`; writes `att` (see `attentionOffsets`; entries `u > t` are 0).
    public func forward<T: Scalar>(qkv: Tensor<T>, batch: WordBatch, att: Tensor<T>, into y: Tensor<T>) {
        let offsets = attentionOffsets(batch)
        forward(qkv: qkv.pointer, starts: batch.starts, attentionOffsets: offsets, words: 0..<batch.count, att: att.pointer, into: y.pointer)
    }

    /// `forward` on the words `words` (their rows of `qkv` and `y`, their probabilities in `att`),
    /// word `w` at rows `starts[w] ..< starts[w + 1]` and probabilities at `attentionOffsets[w]`.
    func forward<T: Scalar>(
        qkv: UnsafePointer<T>, starts: [Int], attentionOffsets offsets: [Int], words: Range<Int>,
        att: UnsafeMutablePointer<T>, into y: UnsafeMutablePointer<T>
    ) {
        forward(kernels: .for(T.self), qkv: qkv, starts: starts, attentionOffsets: offsets, words: words, att: att, into: y)
    }

    /// That `forward` on the C kernels of `kernels` (`Float`, a call per word), or in plain Swift
    /// when nil (the reference: the same operations in the same order, so the same bits).
    func forward<T: Scalar>(
        kernels: KernelVariant?, qkv: UnsafePointer<T>, starts: [Int], attentionOffsets offsets: [Int], words: Range<Int>,
        att: UnsafeMutablePointer<T>, into y: UnsafeMutablePointer<T>
    ) {
        let c = width, hs = headSize, scale = 1 / T(hs).squareRoot()
        for w in words {
            let s = starts[w], n = starts[w + 1] - s
            if let kernels {
                kernels.attentionForward(
                    qkv: (qkv + s * 3 * c).floats, att: (att + offsets[w]).floats, into: (y + s * c).floats, positions: n,
                    heads: heads, headSize: hs)
                continue
            }
            for h in 0..<heads {
                let a = att + offsets[w] + h * n * n  // (n, n) for this word and head
                for t in 0..<n {
                    let q = qkv + (s + t) * 3 * c + h * hs, p = a + t * n
                    // scores, then softmax over u ≤ t (the maximum subtracted first)
                    var maximum = -T.infinity
                    for u in 0...t {
                        let k = qkv + (s + u) * 3 * c + c + h * hs
                        p[u] = Lanes.dot(q, k, hs) * scale
                        maximum = Swift.max(maximum, p[u])
                    }
                    var sum: T = 0
                    for u in 0...t {
                        p[u] = T.exp(p[u] - maximum)
                        sum += p[u]
                    }
                    for u in 0...t { p[u] /= sum }
                    for u in t + 1..<n { p[u] = 0 }
                    // y_t = Σu att[t, u] v_u
                    let out = y + (s + t) * c + h * hs
                    out.update(repeating: 0, count: hs)
                    for u in 0...t { Lanes.addProduct(p[u], qkv + (s + u) * 3 * c + 2 * c + h * hs, into: out, hs) }
                }
            }
        }
    }

    /// Given `dY (rows, C)`, adds into `dQKV (rows, 3C)`, for each word, head and position `t`:
    ///
    ///     datt[t, u] = dy_t · v_u                     dv_u += att[t, u] · dy_t
    ///     dscore[u]  = att[t, u] · (datt[t, u] - Σ_w att[t, w] · datt[t, w])      (softmax backward)
    ///     dq_t      += Σ_u dscore[u] · k_u / √hs      dk_u += dscore[u] · q_t / √hs
    public func backward<T: Scalar>(qkv: Tensor<T>, batch: WordBatch, att: Tensor<T>, dY: Tensor<T>, dQKV: Tensor<T>) {
        let offsets = attentionOffsets(batch)
        withUnsafeTemporaryAllocation(of: T.self, capacity: batch.blockSize) { dAtt in
            backward(
                qkv: qkv.pointer, starts: batch.starts, attentionOffsets: offsets, words: 0..<batch.count, att: att.pointer,
                dY: dY.pointer, dQKV: dQKV.pointer, scratch: dAtt.baseAddress!)
        }
    }

    /// `backward` on the words `words` (see `forward(qkv:starts:attentionOffsets:words:att:into:)`);
    /// `scratch` holds `blockSize` numbers.
    func backward<T: Scalar>(
        qkv: UnsafePointer<T>, starts: [Int], attentionOffsets offsets: [Int], words: Range<Int>, att: UnsafePointer<T>,
        dY: UnsafePointer<T>, dQKV: UnsafeMutablePointer<T>, scratch dAtt: UnsafeMutablePointer<T>
    ) {
        backward(
            kernels: .for(T.self), qkv: qkv, starts: starts, attentionOffsets: offsets, words: words, att: att, dY: dY,
            dQKV: dQKV, scratch: dAtt)
    }

    /// That `backward` on the C kernels of `kernels` (`Float`, a call per word), or in plain Swift
    /// when nil (the reference).
    func backward<T: Scalar>(
        kernels: KernelVariant?, qkv: UnsafePointer<T>, starts: [Int], attentionOffsets offsets: [Int], words: Range<Int>,
        att: UnsafePointer<T>, dY: UnsafePointer<T>, dQKV: UnsafeMutablePointer<T>, scratch dAtt: UnsafeMutablePointer<T>
    ) {
        let c = width, hs = headSize, scale = 1 / T(hs).squareRoot()
        for w in words {
            let s = starts[w], n = starts[w + 1] - s
            if let kernels {
                kernels.attentionBackward(
                    qkv: (qkv + s * 3 * c).floats, att: (att + offsets[w]).floats, dY: (dY + s * c).floats,
                    dQKV: (dQKV + s * 3 * c).floats, scratch: dAtt.floats, positions: n, heads: heads, headSize: hs)
                continue
            }
            for h in 0..<heads {
                let a = att + offsets[w] + h * n * n
                func q(_ t: Int) -> Int { (s + t) * 3 * c + h * hs }  // offsets of q_t, k_t, v_t in qkv
                func k(_ t: Int) -> Int { q(t) + c }
                func v(_ t: Int) -> Int { q(t) + 2 * c }
                for t in 0..<n {
                    let p = a + t * n, dy = dY + (s + t) * c + h * hs
                    var weighted: T = 0  // Σ_w att[t, w] datt[t, w]
                    for u in 0...t {
                        let dot = Lanes.dot(dy, qkv + v(u), hs)
                        Lanes.addProduct(p[u], dy, into: dQKV + v(u), hs)
                        dAtt[u] = dot
                        weighted += p[u] * dot
                    }
                    for u in 0...t {
                        let dScore = p[u] * (dAtt[u] - weighted) * scale
                        Lanes.addProduct(dScore, qkv + k(u), into: dQKV + q(t), hs)
                        Lanes.addProduct(dScore, qkv + q(t), into: dQKV + k(u), hs)
                    }
                }
            }
        }
    }
}
