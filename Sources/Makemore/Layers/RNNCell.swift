/// A recurrent cell of makemore's `RNN`: one time step for `m` words at once, `[x_t, h_{t-1}] -> h_t`.
///
/// The model hands a cell, per step, the rows of the words still running: `xh (m, E + H)`, each
/// row a character's embedding and the word's previous state side by side (makemore's
/// `torch.cat([xt, hprev], dim=1)`), and takes back `h (m, H)`. What the forward keeps for the
/// backward is in `cache` (tensors of `cacheWidths` columns, `m` rows each); the backward may use
/// `scratch` (of `scratchWidths` columns) for its intermediate gradients.
///
/// The backward *adds* into the Linear's `dWeight`, `dBias` (summed over every step, as backprop
/// through time needs) and into `dXH`.
public protocol RecurrentCell: Sendable {
    /// The model's name on the command line (`rnn`, `gru`).
    static var modelName: String { get }
    /// One line on the model, for `--help`.
    static var summary: String { get }
    /// The cell's Linears in makemore's state_dict order, under `cell.`: each `(H, E + H)`, `[H]`.
    static var linearNames: [String] { get }
    /// Columns of each tensor the forward keeps per row besides `xh` and `h`.
    static func cacheWidths(embed: Int, hidden: Int) -> [Int]
    /// Columns of each tensor the backward works in per row.
    static func scratchWidths(embed: Int, hidden: Int) -> [Int]
    /// `h (m, H) = cell(xh (m, E + H))`; writes `cache`.
    static func forward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: UnsafePointer<T>, cache: [UnsafeMutablePointer<T>], h: UnsafeMutablePointer<T>,
        rows m: Int, embed: Int, hidden: Int)
    /// Given `dH = dL/dh (m, H)`, adds the Linears' gradients and `dXH += dL/dxh (m, E + H)`.
    static func backward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: UnsafePointer<T>, cache: [UnsafePointer<T>], h: UnsafePointer<T>,
        dH: UnsafePointer<T>, dXH: UnsafeMutablePointer<T>, scratch: [UnsafeMutablePointer<T>], rows m: Int, embed: Int,
        hidden: Int)
}

/// makemore's `RNNCell`, the Elman cell:
///
///     h_t = tanh(xh_to_h([x_t, h_{t-1}]))          xh_to_h: (H, E + H), [H]
///
/// The forward keeps nothing besides `h` (tanh's derivative is written with its output).
public enum RNNCell: RecurrentCell {
    public static var modelName: String { "rnn" }
    public static var summary: String {
        "makemore's RNN: an embedding, the Elman cell h = tanh(W [x, h] + b) over each word, a Linear head on every state"
    }
    public static var linearNames: [String] { ["xh_to_h"] }
    public static func cacheWidths(embed: Int, hidden: Int) -> [Int] { [] }
    /// `dpre (m, H)`: the gradient before the tanh.
    public static func scratchWidths(embed: Int, hidden: Int) -> [Int] { [hidden] }

    /// `h = tanh(xh @ Wᵀ + b)`.
    public static func forward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: UnsafePointer<T>, cache: [UnsafeMutablePointer<T>], h: UnsafeMutablePointer<T>,
        rows m: Int, embed: Int, hidden: Int
    ) {
        linears[0].forward(xh, into: h, rows: m)
        T.tanh(h, into: h, count: m * hidden)
    }

    ///     dpre  = (1 - h²) · dh
    ///     dW   += dpreᵀ @ xh,  db += dpre.sum(0),  dxh += dpre @ W
    public static func backward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: UnsafePointer<T>, cache: [UnsafePointer<T>], h: UnsafePointer<T>,
        dH: UnsafePointer<T>, dXH: UnsafeMutablePointer<T>, scratch: [UnsafeMutablePointer<T>], rows m: Int, embed: Int,
        hidden: Int
    ) {
        let dPre = scratch[0]
        for i in 0..<m * hidden { dPre[i] = (1 - h[i] * h[i]) * dH[i] }
        linears[0].addBackward(x: xh, dOut: dPre, dX: dXH, rows: m)
    }
}

extension TorchLinear {
    /// `backward` on `n` raw rows, adding: `dW += dOutᵀ @ x`, `db += dOut.sum(0)`, `dx += dOut @ W`
    /// (a recurrent cell's step, whose weight gradients sum over the steps).
    func addBackward(x: UnsafePointer<T>, dOut: UnsafePointer<T>, dX: UnsafeMutablePointer<T>, rows n: Int) {
        let o = outputCount, i = inputCount
        Kernels.matmulTransposedA(dOut, x, into: dWeight.pointer, m: o, k: n, n: i, accumulate: true)
        if let dBias {
            let db = dBias.pointer
            for r in 0..<n {
                let row = dOut + r * o
                for j in 0..<o { db[j] += row[j] }
            }
        }
        Kernels.matmul(dOut, weight.pointer, into: dX, m: n, k: o, n: i, accumulate: true)
    }
}
