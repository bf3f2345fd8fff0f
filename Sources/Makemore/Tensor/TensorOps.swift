/// Whole-tensor operations for the step-by-step forward and backward, where every intermediate
/// is a new tensor, as in the lecture's PyTorch code. They allocate; the training loop uses the
/// layers' buffer-reusing kernels instead.
///
/// Broadcasting covers what the lecture needs: a matrix `(r,c)` with a row `(1,c)` or `[c]`,
/// a column `(r,1)`, a matrix of the same shape, or a scalar.
extension Tensor {
    /// The shape of `self op other`, for shapes that broadcast as described above.
    private static func broadcastShape(_ a: Tensor, _ b: Tensor) -> (rows: Int, columns: Int, shape: [Int]) {
        let rows = Swift.max(a.rows, b.rows)
        let columns = Swift.max(a.columns, b.columns)
        precondition(
            (a.rows == rows || a.rows == 1) && (b.rows == rows || b.rows == 1)
                && (a.columns == columns || a.columns == 1) && (b.columns == columns || b.columns == 1),
            "shapes \(a.shape) and \(b.shape) do not broadcast")
        let shape = (a.shape.count <= 1 && b.shape.count <= 1) ? [columns] : [rows, columns]
        return (rows, columns, shape)
    }

    /// Applies `op` element by element, broadcasting rows and columns.
    public static func elementwise(_ a: Tensor, _ b: Tensor, _ op: (T, T) -> T) -> Tensor {
        let (rows, columns, shape) = broadcastShape(a, b)
        let result = Tensor(shape: shape)
        let aRowStride = a.rows == 1 ? 0 : a.columns, aColumnStride = a.columns == 1 ? 0 : 1
        let bRowStride = b.rows == 1 ? 0 : b.columns, bColumnStride = b.columns == 1 ? 0 : 1
        for i in 0..<rows {
            for j in 0..<columns {
                result.pointer[i * columns + j] = op(
                    a.pointer[i * aRowStride + j * aColumnStride], b.pointer[i * bRowStride + j * bColumnStride])
            }
        }
        return result
    }

    /// `a + b`, element by element, broadcasting rows and columns.
    public static func + (a: Tensor, b: Tensor) -> Tensor { elementwise(a, b, +) }
    /// `a - b`, element by element, broadcasting rows and columns.
    public static func - (a: Tensor, b: Tensor) -> Tensor { elementwise(a, b, -) }
    /// `a * b`, element by element (not a matrix product), broadcasting rows and columns.
    public static func * (a: Tensor, b: Tensor) -> Tensor { elementwise(a, b, *) }
    /// `a / b`, element by element, broadcasting rows and columns.
    public static func / (a: Tensor, b: Tensor) -> Tensor { elementwise(a, b, /) }
    /// Every element of `b` times the scalar `a`.
    public static func * (a: T, b: Tensor) -> Tensor { b.map { a * $0 } }
    /// The scalar `b` added to every element of `a`.
    public static func + (a: Tensor, b: T) -> Tensor { a.map { $0 + b } }
    /// Every element negated.
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    /// `a += b`, in place, `b` broadcast to the shape of `a`.
    public static func += (a: Tensor, b: Tensor) {
        a.assign(a + b)
    }

    /// A new tensor of the same shape with `transform` applied to each element.
    public func map(_ transform: (T) -> T) -> Tensor {
        let result = Tensor(shape: shape)
        for i in 0..<count { result.pointer[i] = transform(pointer[i]) }
        return result
    }

    /// `e^x` of every element, in a new tensor.
    public func exp() -> Tensor { map { T.exp($0) } }
    /// The natural logarithm of every element, in a new tensor.
    public func log() -> Tensor { map { T.log($0) } }
    /// `tanh` of every element, in a new tensor.
    public func tanh() -> Tensor { map { T.tanh($0) } }
    /// Every element raised to `exponent`, in a new tensor.
    public func pow(_ exponent: T) -> Tensor { map { T.pow($0, exponent) } }

    /// Sum over the rows, `(r,c) -> (1,c)`: PyTorch's `sum(0, keepdim=True)`.
    public func sumOverRows() -> Tensor {
        let result = Tensor(shape: [1, columns])
        for i in 0..<rows { for j in 0..<columns { result.pointer[j] += pointer[i * columns + j] } }
        return result
    }

    /// Sum over the columns, `(r,c) -> (r,1)`: PyTorch's `sum(1, keepdim=True)`.
    public func sumOverColumns() -> Tensor {
        let result = Tensor(shape: [rows, 1])
        for i in 0..<rows { for j in 0..<columns { result.pointer[i] += pointer[i * columns + j] } }
        return result
    }

    /// The largest element of each row, `(r,c) -> (r,1)`, and its column (the first, on ties).
    public func maxOverColumns() -> (values: Tensor, indices: [Int]) {
        let values = Tensor(shape: [rows, 1])
        var indices = [Int](repeating: 0, count: rows)
        for i in 0..<rows {
            var best = 0
            for j in 1..<Swift.max(columns, 1) where pointer[i * columns + j] > pointer[i * columns + best] { best = j }
            values.pointer[i] = pointer[i * columns + best]
            indices[i] = best
        }
        return (values, indices)
    }

    /// `(r,c)ᵀ -> (c,r)`.
    public func transposed() -> Tensor {
        let result = Tensor(shape: [columns, rows])
        for i in 0..<rows { for j in 0..<columns { result.pointer[j * rows + i] = pointer[i * columns + j] } }
        return result
    }

    /// Matrix product `(m,k) @ (k,n) -> (m,n)`.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(columns == other.rows, "matmul of \(shape) and \(other.shape)")
        let result = Tensor(shape: [rows, other.columns])
        Kernels.matmul(pointer, other.pointer, into: result.pointer, m: rows, k: columns, n: other.columns)
        return result
    }

    /// A `(indices.count, columns)` matrix of zeros with `value` at `(i, indices[i])`.
    public static func oneHot(_ indices: [Int], columns: Int, value: T = 1) -> Tensor {
        let result = Tensor(shape: [indices.count, columns])
        for (i, j) in indices.enumerated() { result.pointer[i * columns + j] = value }
        return result
    }
}
