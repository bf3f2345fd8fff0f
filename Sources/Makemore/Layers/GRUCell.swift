/// makemore's `GRUCell`, with `h = h_{t-1}` and `xh = [x_t, h]`:
///
///     r    = sigmoid(xh_to_r(xh))                  reset gate            (m, H)
///     xrh  = [x_t, r · h]                                                (m, E + H)
///     hbar = tanh(xh_to_hbar(xrh))                 candidate state       (m, H)
///     z    = sigmoid(xh_to_z(xh))                  update gate           (m, H)
///     h_t  = (1 - z) · h + z · hbar
///
/// Linears in makemore's order `xh_to_z`, `xh_to_r`, `xh_to_hbar`, each `(H, E + H)`, `[H]`. The
/// forward keeps `r`, `z`, `hbar` and `xrh` (small: the backward needs every one of them); the
/// backward leaves the gradients before the Linears in `scratch` for `weightGradients`.
/// `sigmoid(v) = ½ + ½ tanh(v / 2)`, which cannot overflow.
public enum GRUCell: RecurrentCell {
    public static var modelName: String { "gru" }
    public static var summary: String {
        "makemore's GRU: an embedding, a gated recurrent cell over each word, a Linear head on every state"
    }
    public static var linearNames: [String] { ["xh_to_z", "xh_to_r", "xh_to_hbar"] }
    /// `r`, `z`, `hbar` (·, H), `xrh` (·, E + H).
    public static func cacheWidths(embed: Int, hidden: Int) -> [Int] { [hidden, hidden, hidden, embed + hidden] }
    /// `dpre` of `hbar`, `z`, `r` (·, H), `dxrh` (·, E + H).
    public static func scratchWidths(embed: Int, hidden: Int) -> [Int] { [hidden, hidden, hidden, embed + hidden] }

    @_specialize(where T == Float)
    public static func forward<T: Scalar>(_ linears: [TorchLinear<T>], xh xhTensor: Tensor<T>, cache: [Tensor<T>], h: Tensor<T>, rows: Range<Int>) {
        let (toZ, toR, toHbar) = (linears[0], linears[1], linears[2])
        let n = h.columns, w = xhTensor.columns, e = w - n, m = rows.count, first = rows.lowerBound
        let xh = xhTensor.pointer + first * w, out = h.pointer + first * n
        let r = cache[0].pointer + first * n, z = cache[1].pointer + first * n, hbar = cache[2].pointer + first * n
        let xrh = cache[3].pointer + first * w
        toR.forward(xh, into: r, rows: m)
        sigmoid(r, count: m * n)
        for i in 0..<m {
            let src = xh + i * w, dst = xrh + i * w, ri = r + i * n
            dst.update(from: src, count: e)
            for j in 0..<n { dst[e + j] = ri[j] * src[e + j] }
        }
        toHbar.forward(xrh, into: hbar, rows: m)
        T.tanh(hbar, into: hbar, count: m * n)
        toZ.forward(xh, into: z, rows: m)
        sigmoid(z, count: m * n)
        for i in 0..<m {
            let hPrevious = xh + i * w + e, k = i * n
            for j in 0..<n { out[k + j] = (1 - z[k + j]) * hPrevious[j] + z[k + j] * hbar[k + j] }
        }
    }

    /// In reverse, with `dh_t` given:
    ///
    ///     dhbar_pre = dh_t · z · (1 - hbar²)          dz_pre = dh_t · (hbar - h) · z (1 - z)
    ///     dh       += dh_t · (1 - z)
    ///     dxrh      = dhbar_pre @ W_hbar
    ///     dx       += dxrh[:, :E];  dh += dxrh[:, E:] · r;  dr_pre = dxrh[:, E:] · h · r (1 - r)
    ///     dxh      += dz_pre @ W_z + dr_pre @ W_r
    @_specialize(where T == Float)
    public static func backward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh xhTensor: Tensor<T>, cache: [Tensor<T>], h: Tensor<T>, dH dHTensor: Tensor<T>,
        dXH: Tensor<T>, scratch: [Tensor<T>], rows: Range<Int>
    ) {
        let (toZ, toR, toHbar) = (linears[0], linears[1], linears[2])
        let n = h.columns, w = xhTensor.columns, e = w - n, m = rows.count, first = rows.lowerBound
        let xh = xhTensor.pointer + first * w, dXHRows = dXH.pointer + first * w, dH = dHTensor.pointer + first * n
        let r = cache[0].pointer + first * n, z = cache[1].pointer + first * n, hbar = cache[2].pointer + first * n
        let dHbarPre = scratch[0].pointer + first * n, dZPre = scratch[1].pointer + first * n
        let dRPre = scratch[2].pointer + first * n, dXRH = scratch[3].pointer + first * w
        for i in 0..<m {
            let hPrevious = xh + i * w + e, dh = dXHRows + i * w + e, k = i * n
            for j in 0..<n {
                let d = dH[k + j], zj = z[k + j], hb = hbar[k + j]
                dHbarPre[k + j] = d * zj * (1 - hb * hb)
                dZPre[k + j] = d * (hb - hPrevious[j]) * zj * (1 - zj)
                dh[j] += d * (1 - zj)
            }
        }
        toHbar.inputGradient(dOut: dHbarPre, into: dXRH, rows: m)
        for i in 0..<m {
            let hPrevious = xh + i * w + e, dxrh = dXRH + i * w, dxh = dXHRows + i * w, k = i * n
            for j in 0..<e { dxh[j] += dxrh[j] }
            for j in 0..<n {
                let rj = r[k + j], d = dxrh[e + j]
                dxh[e + j] += d * rj
                dRPre[k + j] = d * hPrevious[j] * rj * (1 - rj)
            }
        }
        toZ.inputGradient(dOut: dZPre, into: dXHRows, rows: m, accumulate: true)
        toR.inputGradient(dOut: dRPre, into: dXHRows, rows: m, accumulate: true)
    }

    ///     dW_hbar += dhbar_preᵀ @ xrh,  dW_z += dz_preᵀ @ xh,  dW_r += dr_preᵀ @ xh   (and the biases)
    @_specialize(where T == Float)
    public static func weightGradients<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: Tensor<T>, cache: [Tensor<T>], scratch: [Tensor<T>], rows: Range<Int>
    ) {
        let (toZ, toR, toHbar) = (linears[0], linears[1], linears[2])
        toHbar.addWeightGradient(x: cache[3], dOut: scratch[0], rows: rows)
        toZ.addWeightGradient(x: xh, dOut: scratch[1], rows: rows)
        toR.addWeightGradient(x: xh, dOut: scratch[2], rows: rows)
    }

    /// The gates `r` and `z` (sigmoid) and the candidate `hbar` (tanh), with the gradients
    /// arriving at each, rebuilt from what `backward` keeps: `dhbar = dh_t · z`,
    /// `dz = dh_t · (hbar - h)`, `dr = dxrh[:, E:] · h` (`h` the previous state). New tensors.
    public static func nonlinearities(
        xh: Tensor<Float>, cache: [Tensor<Float>], h: Tensor<Float>, dH: Tensor<Float>, scratch: [Tensor<Float>], rows: Range<Int>
    ) -> [NonlinearityOutput] {
        let n = h.columns, w = xh.columns, e = w - n, m = rows.count
        let dR = Tensor<Float>(shape: [m, n]), dZ = Tensor<Float>(shape: [m, n]), dHbar = Tensor<Float>(shape: [m, n])
        let r = cache[0].rows(rows), z = cache[1].rows(rows), hbar = cache[2].rows(rows)
        for i in 0..<m {
            let row = rows.lowerBound + i
            for j in 0..<n {
                let k = i * n + j, hPrevious = xh[row, e + j], d = dH[row, j]
                dHbar[k] = d * z[k]
                dZ[k] = d * (hbar[k] - hPrevious)
                dR[k] = scratch[3][row, e + j] * hPrevious
            }
        }
        return [
            NonlinearityOutput(name: "gate r", kind: .sigmoid, output: r, gradient: dR),
            NonlinearityOutput(name: "gate z", kind: .sigmoid, output: z, gradient: dZ),
            NonlinearityOutput(name: "hbar tanh", kind: .tanh, output: hbar, gradient: dHbar),
        ]
    }

    /// `v = ½ + ½ tanh(v / 2)`, in place.
    @_specialize(where T == Float)
    static func sigmoid<T: Scalar>(_ v: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { v[i] = T(0.5) * v[i] }
        T.tanh(v, into: v, count: count)
        for i in 0..<count { v[i] = T(0.5) + T(0.5) * v[i] }
    }
}
