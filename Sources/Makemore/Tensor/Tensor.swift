/// Contiguous, row-major storage of `Scalar`s that a `Tensor` views.
///
/// One allocation, freed with the last view. Parameters of a model live in one of these,
/// with a named `Tensor` view per parameter (see `ParameterTable`).
public final class TensorStorage<T>: @unchecked Sendable {
    /// The first element.
    public let base: UnsafeMutablePointer<T>
    /// Number of elements.
    public let count: Int

    /// `count` elements, each `value`.
    ///
    /// Storage starts on a 128-byte boundary (a pair of cache lines, which processors fetch
    /// together), so that parts of a step writing separate tensors never share a line.
    public init(count: Int, repeating value: T) {
        base = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(count, 1) * MemoryLayout<T>.stride, alignment: Swift.max(128, MemoryLayout<T>.alignment)
        ).bindMemory(to: T.self, capacity: Swift.max(count, 1))
        base.initialize(repeating: value, count: Swift.max(count, 1))
        self.count = count
    }

    deinit {
        base.deinitialize(count: Swift.max(count, 1))
        base.deallocate()
    }
}

/// A row-major view of `shape` over a `TensorStorage`.
///
/// A tensor has reference semantics, like a PyTorch tensor: copies of it share elements, and
/// writing through one is seen through the others. `copy()` makes an independent tensor.
/// Kernels work on `pointer` directly.
public struct Tensor<T: Scalar>: @unchecked Sendable {
    /// The sizes of the dimensions, outermost first: `[rows, columns]` for a matrix, `[n]` for a
    /// vector.
    public let shape: [Int]
    /// Number of elements: the product of `shape`.
    public let count: Int
    /// The storage viewed, shared with every other view of it.
    public let storage: TensorStorage<T>
    /// Where the view starts in `storage`, in elements.
    public let offset: Int

    /// A new tensor of `shape`, every element `value`.
    public init(shape: [Int], repeating value: T = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let count = shape.reduce(1, *)
        self.init(shape: shape, storage: TensorStorage(count: count, repeating: value), offset: 0)
    }

    /// A new tensor of `shape` holding `values` in row-major order.
    public init(shape: [Int], values: [T]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    /// A view of `shape` on `storage`, starting at element `offset`.
    public init(shape: [Int], storage: TensorStorage<T>, offset: Int) {
        let count = shape.reduce(1, *)
        precondition(offset >= 0 && offset + count <= storage.count, "view \(shape) at \(offset) outside storage of \(storage.count)")
        self.shape = shape
        self.count = count
        self.storage = storage
        self.offset = offset
    }

    /// The first element of the view; the others follow in row-major order.
    @inlinable public var pointer: UnsafeMutablePointer<T> { storage.base + offset }

    /// Number of rows of a matrix; a vector `[m]` counts as one row.
    @inlinable public var rows: Int { shape.count >= 2 ? count / shape[shape.count - 1] : 1 }
    /// Number of columns: the last dimension.
    @inlinable public var columns: Int { shape.last ?? 1 }

    /// The element at `index` in row-major order (the tensor viewed flat); setting writes through
    /// to the storage.
    @inlinable public subscript(index: Int) -> T {
        get { pointer[index] }
        nonmutating set { pointer[index] = newValue }
    }

    /// The element at `row`, `column` of the tensor viewed as `(rows, columns)`; setting writes
    /// through to the storage.
    @inlinable public subscript(row: Int, column: Int) -> T {
        get { pointer[row * columns + column] }
        nonmutating set { pointer[row * columns + column] = newValue }
    }

    /// The elements in row-major order.
    public var array: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// An independent tensor with the same shape and elements.
    public func copy() -> Tensor {
        let result = Tensor(shape: shape)
        result.pointer.update(from: pointer, count: count)
        return result
    }

    /// A view of the same elements with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot view \(shape) as \(newShape)")
        return Tensor(shape: newShape, storage: storage, offset: offset)
    }

    /// A vector view of elements `range` (in row-major order).
    public func slice(_ range: Range<Int>) -> Tensor {
        precondition(range.upperBound <= count, "elements \(range) of \(shape)")
        return Tensor(shape: [range.count], storage: storage, offset: offset + range.lowerBound)
    }

    /// A view of rows `range` of a matrix.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(shape.count == 2 && range.upperBound <= shape[0], "rows \(range) of \(shape)")
        return Tensor(shape: [range.count, shape[1]], storage: storage, offset: offset + range.lowerBound * shape[1])
    }

    /// Sets every element to `value`.
    public func fill(_ value: T) {
        pointer.update(repeating: value, count: count)
    }

    /// Copies the elements of `other`, which has the same element count.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assigning \(other.shape) to \(shape)")
        pointer.update(from: other.pointer, count: count)
    }
}

extension Tensor {
    /// The largest absolute difference between two tensors of the same element count.
    public func maxAbsDifference(_ other: Tensor) -> T {
        precondition(other.count == count, "comparing \(shape) with \(other.shape)")
        var result: T = 0
        for i in 0..<count { result = Swift.max(result, Swift.abs(pointer[i] - other.pointer[i])) }
        return result
    }

    /// The largest absolute element.
    public var maxAbs: T {
        var result: T = 0
        for i in 0..<count { result = Swift.max(result, Swift.abs(pointer[i])) }
        return result
    }
}
