/// A named tensor of a model: the name is what checkpoints and exports call it.
public struct ParameterSpec: Equatable, Sendable {
    /// The tensor's name in checkpoints and exports (`C`, `W1`, `bngain1`, ...).
    public var name: String
    /// The tensor's shape, row-major.
    public var shape: [Int]
    /// False for running statistics, which the optimizer does not touch.
    public var isTrainable: Bool = true

    /// A tensor called `name` of `shape`, trained unless `isTrainable` is false.
    public init(name: String, shape: [Int], isTrainable: Bool = true) {
        self.name = name
        self.shape = shape
        self.isTrainable = isTrainable
    }
}

/// Every tensor of a model in one allocation, and the gradients in a second allocation of the
/// same layout, as llm.c's `ParameterTensors`.
///
/// A model sees the table through its typed parameters (a struct of views, built in the order of
/// the specs by `views(of:)`); the names are used only where tensors are written or read
/// (checkpoints, exports). The one table drives checkpoints, exports, gradient checks and the
/// optimizer, so nothing is kept in step by hand. Trainable parameters come first:
/// `values[0..<trainableCount]` (the few elements of padding between tensors stay zero).
public struct ParameterTable<T: Scalar>: @unchecked Sendable {
    /// One tensor of the table: its spec and where it starts.
    public struct Entry: Sendable {
        /// The tensor's name, shape and whether it is trained.
        public let spec: ParameterSpec
        /// Where the tensor starts in `values` (and in `gradients`), in elements.
        public let offset: Int
        /// The tensor's name.
        public var name: String { spec.name }
        /// The tensor's shape.
        public var shape: [Int] { spec.shape }
        /// Elements of the tensor: the product of `shape`.
        public var count: Int { spec.shape.reduce(1, *) }
    }

    /// Every tensor, in the order of the specs the table was made from.
    public let entries: [Entry]
    /// The one allocation that holds every tensor's elements.
    public let values: TensorStorage<T>
    /// The gradients, in the same layout as `values`.
    public let gradients: TensorStorage<T>
    /// The end of the trainable tensors, which are stored first: `values[0..<trainableCount]`.
    public let trainableCount: Int
    private let indexByName: [String: Int]

    /// Elements between the starts of consecutive tensors are a multiple of this: each tensor starts
    /// on a 128-byte boundary (for `Float`), like the storage itself. Threads that update different
    /// tensors, or slices of one that start on such a boundary, then never write the same cache line.
    static var alignment: Int { 32 }

    /// A zero-filled table for `specs`, which list trainable parameters first.
    public init(specs: [ParameterSpec]) {
        var entries: [Entry] = []
        var offset = 0
        var trainableCount = 0
        for spec in specs {
            offset = (offset + Self.alignment - 1) / Self.alignment * Self.alignment
            entries.append(Entry(spec: spec, offset: offset))
            offset += spec.shape.reduce(1, *)
            if spec.isTrainable {
                precondition(entries.dropLast().allSatisfy(\.spec.isTrainable), "trainable parameters must come first")
                trainableCount = offset
            }
        }
        self.entries = entries
        self.values = TensorStorage(count: offset, repeating: 0)
        self.gradients = TensorStorage(count: offset, repeating: 0)
        self.trainableCount = trainableCount
        self.indexByName = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    /// The tensors' names, in table order.
    public var names: [String] { entries.map(\.name) }

    /// The tensor called `name`, or nil.
    public func entry(_ name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// The views of `storage` (`values` or `gradients`) in the order of the specs, taken one at a
    /// time by a model's typed parameters.
    func views(of storage: TensorStorage<T>) -> Views {
        Views(table: self, storage: storage)
    }

    /// Hands out the views of a table's tensors in order; `next(shape)` checks the shape expected.
    struct Views {
        let table: ParameterTable
        let storage: TensorStorage<T>
        private var index = 0

        init(table: ParameterTable, storage: TensorStorage<T>) {
            self.table = table
            self.storage = storage
        }

        /// The view of the next tensor, which must have `shape`.
        mutating func next(_ shape: [Int]) -> Tensor<T> {
            precondition(index < table.entries.count, "the table has only \(table.entries.count) tensors")
            let entry = table.entries[index]
            precondition(entry.shape == shape, "tensor \(index) '\(entry.name)' is \(entry.shape), not \(shape)")
            index += 1
            return Tensor(shape: shape, storage: storage, offset: entry.offset)
        }

        /// True when every tensor was handed out.
        var isComplete: Bool { index == table.entries.count }
    }

    /// The view of parameter `name` (for files: models use their typed parameters).
    public subscript(name: String) -> Tensor<T> {
        guard let entry = entry(name) else { preconditionFailure("no parameter \(name)") }
        return Tensor(shape: entry.shape, storage: values, offset: entry.offset)
    }

    /// The view of the gradient of parameter `name`.
    public func gradient(_ name: String) -> Tensor<T> {
        guard let entry = entry(name) else { preconditionFailure("no parameter \(name)") }
        return Tensor(shape: entry.shape, storage: gradients, offset: entry.offset)
    }

    /// An independent table with the same values in another scalar type.
    public func converted<U: Scalar>(to: U.Type = U.self) -> ParameterTable<U> {
        let result = ParameterTable<U>(specs: entries.map(\.spec))
        for i in 0..<values.count { result.values.base[i] = U(values.base[i]) }
        return result
    }

    /// An independent copy of the values (gradients zero).
    public func copy() -> ParameterTable {
        let result = ParameterTable(specs: entries.map(\.spec))
        result.values.base.update(from: values.base, count: values.count)
        return result
    }
}

