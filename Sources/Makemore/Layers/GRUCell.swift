/// makemore's `GRUCell`, with `h = h_{t-1}` and `xh = [x_t, h]`:
///
///     r    = sigmoid(xh_to_r(xh))                  reset gate            (m, H)
///     xrh  = [x_t, r · h]                                                (m, E + H)
///     hbar = tanh(xh_to_hbar(xrh))                 candidate state       (m, H)
///     z    = sigmoid(xh_to_z(xh))                  update gate           (m, H)
///     h_t  = (1 - z) · h + z · hbar
///
/// Linears in makemore's order `xh_to_z`, `xh_to_r`, `xh_to_hbar`, each `(H, E + H)`, `[H]`. The
/// forward keeps `r`, `z`, `hbar` and `xrh` (small: the backward needs every one of them).
/// `sigmoid(v) = ½ + ½ tanh(v / 2)`, which cannot overflow.
public enum GRUCell: RecurrentCell {
    public static var modelName: String { "gru" }
    public static var summary: String {
        "makemore's GRU: an embedding, a gated recurrent cell over each word, a Linear head on every state"
    }
    public static var linearNames: [String] { ["xh_to_z", "xh_to_r", "xh_to_hbar"] }
    /// `r`, `z`, `hbar` (m, H), `xrh` (m, E + H).
    public static func cacheWidths(embed: Int, hidden: Int) -> [Int] { [hidden, hidden, hidden, embed + hidden] }
    /// `dpre` of `hbar`, `z`, `r` (m, H), `dxrh` (m, E + H).
    public static func scratchWidths(embed: Int, hidden: Int) -> [Int] { [hidden, hidden, hidden, embed + hidden] }

    public static func forward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: UnsafePointer<T>, cache: [UnsafeMutablePointer<T>], h out: UnsafeMutablePointer<T>,
        rows m: Int, embed e: Int, hidden n: Int
    ) {
        let (toZ, toR, toHbar) = (linears[0], linears[1], linears[2])
        let r = cache[0], z = cache[1], hbar = cache[2], xrh = cache[3], w = e + n
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
            let h = xh + i * w + e, k = i * n
            for j in 0..<n { out[k + j] = (1 - z[k + j]) * h[j] + z[k + j] * hbar[k + j] }
        }
    }

    /// In reverse, with `dh_t` given:
    ///
    ///     dhbar_pre = dh_t · z · (1 - hbar²)          dz_pre = dh_t · (hbar - h) · z (1 - z)
    ///     dh       += dh_t · (1 - z)
    ///     xh_to_hbar: dW += dhbar_preᵀ @ xrh, dxrh = dhbar_pre @ W
    ///     dx       += dxrh[:, :E];  dh += dxrh[:, E:] · r;  dr_pre = dxrh[:, E:] · h · r (1 - r)
    ///     xh_to_z, xh_to_r: dW += dpreᵀ @ xh, dxh += dpre @ W
    public static func backward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: UnsafePointer<T>, cache: [UnsafePointer<T>], h out: UnsafePointer<T>,
        dH: UnsafePointer<T>, dXH: UnsafeMutablePointer<T>, scratch: [UnsafeMutablePointer<T>], rows m: Int, embed e: Int,
        hidden n: Int
    ) {
        let (toZ, toR, toHbar) = (linears[0], linears[1], linears[2])
        let r = cache[0], z = cache[1], hbar = cache[2], xrh = cache[3], w = e + n
        let dHbarPre = scratch[0], dZPre = scratch[1], dRPre = scratch[2], dXRH = scratch[3]
        for i in 0..<m {
            let h = xh + i * w + e, dh = dXH + i * w + e, k = i * n
            for j in 0..<n {
                let d = dH[k + j], zj = z[k + j], hb = hbar[k + j]
                dHbarPre[k + j] = d * zj * (1 - hb * hb)
                dZPre[k + j] = d * (hb - h[j]) * zj * (1 - zj)
                dh[j] += d * (1 - zj)
            }
        }
        dXRH.update(repeating: 0, count: m * w)
        toHbar.addBackward(x: xrh, dOut: dHbarPre, dX: dXRH, rows: m)
        for i in 0..<m {
            let h = xh + i * w + e, dxrh = dXRH + i * w, dxh = dXH + i * w, k = i * n
            for j in 0..<e { dxh[j] += dxrh[j] }
            for j in 0..<n {
                let rj = r[k + j], d = dxrh[e + j]
                dxh[e + j] += d * rj
                dRPre[k + j] = d * h[j] * rj * (1 - rj)
            }
        }
        toZ.addBackward(x: xh, dOut: dZPre, dX: dXH, rows: m)
        toR.addBackward(x: xh, dOut: dRPre, dX: dXH, rows: m)
    }

    /// `v = ½ + ½ tanh(v / 2)`, in place.
    static func sigmoid<T: Scalar>(_ v: UnsafeMutablePointer<T>, count: Int) {
        for i in 0..<count { v[i] = T(0.5) * v[i] }
        T.tanh(v, into: v, count: count)
        for i in 0..<count { v[i] = T(0.5) + T(0.5) * v[i] }
    }
}
