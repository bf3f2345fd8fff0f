/// The lecture's `FlattenConsecutive(n)`: `(B, T, C)` viewed as `(B, T/n, C·n)`, the vectors of
/// `n` consecutive time steps side by side; a time axis of length 1 is dropped, leaving `(B, C·n)`.
///
/// In row-major storage the rows of `(B, T, C)` are `(B·T, C)`, and those of the result are the
/// same memory read `n` rows at a time: the forward is a view, `x.view(B, T/n, C·n)`, and the
/// backward is the reverse view, the gradient of each element passing to the element it is.
/// Nothing is copied either way.
public enum FlattenConsecutive {
    /// `x (rows, width)` viewed as `(rows / n, width · n)`.
    public static func forward<T: Scalar>(_ x: Tensor<T>, _ n: Int = 2) -> Tensor<T> {
        precondition(x.rows % n == 0, "\(x.rows) rows do not pair up by \(n)")
        return x.reshaped([x.rows / n, x.columns * n])
    }

    /// `dOut (rows, width)` viewed as `(rows · n, width / n)`: the gradient of the input.
    public static func backward<T: Scalar>(_ dOut: Tensor<T>, _ n: Int = 2) -> Tensor<T> {
        dOut.reshaped([dOut.rows * n, dOut.columns / n])
    }
}
