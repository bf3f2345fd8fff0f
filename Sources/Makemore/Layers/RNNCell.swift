/// A recurrent cell of makemore's `RNN`: one time step for `m` words at once, `[x_t, h_{t-1}] -> h_t`.
///
/// The model keeps its activations time-major, a step's words in rows `rows` of every tensor:
/// `xh (·, E + H)`, each row a character's embedding and the word's previous state side by side
/// (makemore's `torch.cat([xt, hprev], dim=1)`), and the states `h (·, H)`. What the forward
/// keeps for the backward is in `cache` (tensors of `cacheWidths` columns); the backward works in
/// `scratch` (of `scratchWidths` columns), where it leaves the gradients before each Linear.
///
/// Backpropagation through time needs each step's `dxh` before the step before it, but not the
/// weight gradients: `backward` (one step, last first) writes the gradients before the Linears
/// into `scratch` and adds `dxh`; `weightGradients`, once after every step, adds each Linear's
/// `dW += dpreᵀ @ input`, `db += dpre.sum(0)` over all rows at once (one large product instead
/// of one small one per step).
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
    /// `h[rows] = cell(xh[rows])`; writes `cache[rows]`.
    static func forward<T: Scalar>(_ linears: [TorchLinear<T>], xh: Tensor<T>, cache: [Tensor<T>], h: Tensor<T>, rows: Range<Int>)
    /// Given `dH[rows] = dL/dh`, writes the gradients before the Linears into `scratch[rows]` and
    /// adds `dXH[rows] += dL/dxh`.
    static func backward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: Tensor<T>, cache: [Tensor<T>], h: Tensor<T>, dH: Tensor<T>, dXH: Tensor<T>,
        scratch: [Tensor<T>], rows: Range<Int>)
    /// Adds every Linear's weight and bias gradient over `rows` (all the steps' rows).
    static func weightGradients<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: Tensor<T>, cache: [Tensor<T>], scratch: [Tensor<T>], rows: Range<Int>)
    /// The cell's nonlinearities over `rows` after `forward` and `backward` on every step (`dH`
    /// complete, `scratch` as `backward` left it): each output and the gradient arriving at it.
    static func nonlinearities(
        xh: Tensor<Float>, cache: [Tensor<Float>], h: Tensor<Float>, dH: Tensor<Float>, scratch: [Tensor<Float>], rows: Range<Int>
    ) -> [NonlinearityOutput]
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
    /// `dpre (·, H)`: the gradient before the tanh.
    public static func scratchWidths(embed: Int, hidden: Int) -> [Int] { [hidden] }

    /// `h = tanh(xh @ Wᵀ + b)`.
    @_specialize(where T == Float)
    public static func forward<T: Scalar>(_ linears: [TorchLinear<T>], xh: Tensor<T>, cache: [Tensor<T>], h: Tensor<T>, rows: Range<Int>) {
        let n = h.columns, first = rows.lowerBound
        linears[0].forward(xh.pointer + first * xh.columns, into: h.pointer + first * n, rows: rows.count)
        T.tanh(h.pointer + first * n, into: h.pointer + first * n, count: rows.count * n)
    }

    ///     dpre  = (1 - h²) · dh,   dxh += dpre @ W
    @_specialize(where T == Float)
    public static func backward<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: Tensor<T>, cache: [Tensor<T>], h: Tensor<T>, dH: Tensor<T>, dXH: Tensor<T>,
        scratch: [Tensor<T>], rows: Range<Int>
    ) {
        let n = h.columns, offset = rows.lowerBound * n
        let hs = h.pointer + offset, dh = dH.pointer + offset, dPre = scratch[0].pointer + offset
        for i in 0..<rows.count * n { dPre[i] = (1 - hs[i] * hs[i]) * dh[i] }
        linears[0].inputGradient(dOut: dPre, into: dXH.pointer + rows.lowerBound * dXH.columns, rows: rows.count, accumulate: true)
    }

    ///     dW += dpreᵀ @ xh,  db += dpre.sum(0)
    @_specialize(where T == Float)
    public static func weightGradients<T: Scalar>(
        _ linears: [TorchLinear<T>], xh: Tensor<T>, cache: [Tensor<T>], scratch: [Tensor<T>], rows: Range<Int>
    ) {
        linears[0].addWeightGradient(x: xh, dOut: scratch[0], rows: rows)
    }

    /// The tanh: the states `h` and their gradients `dH`.
    public static func nonlinearities(
        xh: Tensor<Float>, cache: [Tensor<Float>], h: Tensor<Float>, dH: Tensor<Float>, scratch: [Tensor<Float>], rows: Range<Int>
    ) -> [NonlinearityOutput] {
        [NonlinearityOutput(name: "tanh", kind: .tanh, output: h.rows(rows), gradient: dH.rows(rows))]
    }
}

extension TorchLinear {
    /// `dW += dOut[rows]ᵀ @ x[rows]`, `db += dOut[rows].sum(0)`: a recurrent cell's weight
    /// gradients, summed over every step's rows at once.
    @_specialize(where T == Float)
    func addWeightGradient(x: Tensor<T>, dOut: Tensor<T>, rows: Range<Int>) {
        let o = outputCount, i = inputCount, n = rows.count
        let dOutRows = dOut.pointer + rows.lowerBound * o
        Kernels.matmulTransposedA(dOutRows, x.pointer + rows.lowerBound * i, into: dWeight.pointer, m: o, k: n, n: i, accumulate: true)
        if let dBias {
            let db = dBias.pointer
            for r in 0..<n {
                let row = dOutRows + r * o
                for j in 0..<o { db[j] += row[j] }
            }
        }
    }
}
