/// makemore's `CausalBoW`: at each position, the mean of the vectors of that position and of every
/// position before it in the same word,
///
///     y[t] = (x[0] + x[1] + ... + x[t]) / (t + 1)
///
/// which is makemore's `att @ x` with `att` the causal mask's uniform weights (a softmax of zeros
/// over `u ≤ t`). On the packed rows of a `WordBatch`: word `w`'s positions are rows
/// `starts[w] ..< starts[w + 1]`. A running sum makes it `O(rows · C)` instead of `O(rows · T · C)`;
/// the forward keeps nothing (the backward needs only the positions).
public enum CausalBoW {
    /// `y (rows, C)` from `x (rows, C)`, for the words `words` of a batch whose word `w` is rows
    /// `starts[w] ..< starts[w + 1]`; `scratch` holds `C` values (the running sum).
    public static func forward<T: Scalar>(
        _ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, width c: Int, starts: [Int], words: Range<Int>,
        scratch: UnsafeMutablePointer<T>
    ) {
        for w in words {
            let first = starts[w]
            scratch.update(repeating: 0, count: c)  // (C): x[0] + ... + x[t]
            for r in first..<starts[w + 1] {
                let out = y + r * c, row = x + r * c, scale = 1 / T(r - first + 1)
                for j in 0..<c {
                    scratch[j] += row[j]
                    out[j] = scratch[j] * scale
                }
            }
        }
    }

    /// Adds `dx[u] += Σ_{t ≥ u} dy[t] / (t + 1)` over each word's positions: each `y[t]` took
    /// `1/(t+1)` of every `x[u]` before it. A running sum from the word's last position back.
    public static func backward<T: Scalar>(
        dY: UnsafePointer<T>, dX: UnsafeMutablePointer<T>, width c: Int, starts: [Int], words: Range<Int>,
        scratch: UnsafeMutablePointer<T>
    ) {
        for w in words {
            let first = starts[w]
            scratch.update(repeating: 0, count: c)  // (C): Σ over the positions after u of dy[t] / (t + 1)
            for r in (first..<starts[w + 1]).reversed() {
                let d = dY + r * c, dx = dX + r * c, scale = 1 / T(r - first + 1)
                for j in 0..<c {
                    scratch[j] += d[j] * scale
                    dx[j] += scratch[j]
                }
            }
        }
    }
}
