/// Every tensor of a model in one allocation, with a named view per tensor, and the gradients
/// in a second allocation of the same layout.
///
/// The one table drives checkpoints, exports and gradient checks, so nothing is kept in step by
/// hand; the layers and the training step work on views of it. Trainable parameters come first:
/// `values[0..<trainableCount]` (the few elements of padding between tensors stay zero).
public struct ParameterTable<T: Scalar>: @unchecked Sendable {
    public struct Entry: Sendable {
        public let spec: ParameterSpec
        public let offset: Int
        public var name: String { spec.name }
        public var shape: [Int] { spec.shape }
        public var count: Int { spec.shape.reduce(1, *) }
    }

    public let entries: [Entry]
    public let values: TensorStorage<T>
    public let gradients: TensorStorage<T>
    /// The end of the trainable tensors, which are stored first: `values[0..<trainableCount]`.
    public let trainableCount: Int
    private let indexByName: [String: Int]

    /// Elements between the starts of consecutive tensors are a multiple of this: each tensor starts
    /// on a 128-byte boundary (for `Float`), like the storage itself. Threads that update different
    /// tensors, or blocks of one that start on such a boundary, then never write the same cache line.
    public static var alignment: Int { 32 }

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

    public var names: [String] { entries.map(\.name) }

    public func entry(_ name: String) -> Entry? {
        indexByName[name].map { entries[$0] }
    }

    /// The view of parameter `name`.
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

extension ParameterTable {
    /// The lecture's initial values, deliberately non-trivial so that a wrong backward cannot
    /// hide behind zeros: `C ~ N(0,1)`; hidden `W ~ N(0,1)·(5/3)/√fanIn`, `b ~ 0.1·N(0,1)`;
    /// output `W, b ~ 0.1·N(0,1)`; `bngain ~ 1 + 0.1·N(0,1)`, `bnbias ~ 0.1·N(0,1)`;
    /// running mean 0 and variance 1. Drawn from `generator` in the order of the table.
    public static func initialized(_ config: ModelConfig, generator: inout SeededGenerator) -> ParameterTable {
        let table = ParameterTable(specs: config.parameterSpecs)
        let output = config.hiddenLayers + 1
        for entry in table.entries {
            let tensor = table[entry.name]
            let name = entry.name
            // (scale, shift) of each element: value = shift + scale * N(0,1).
            let (scale, shift): (Double, Double)
            if name == "C" {
                (scale, shift) = (1, 0)
            } else if name == "W\(output)" || name == "b\(output)" {
                (scale, shift) = (0.1, 0)
            } else if name.hasPrefix("W") {
                let layer = Int(name.dropFirst())!
                (scale, shift) = ((5.0 / 3.0) / Double(config.fanIn(ofLayer: layer)).squareRoot(), 0)
            } else if name.hasPrefix("bngain") {
                (scale, shift) = (0.1, 1)
            } else if name.hasPrefix("bnmean") {
                tensor.fill(0)
                continue
            } else if name.hasPrefix("bnvar") {
                tensor.fill(1)
                continue
            } else {  // b{i}, bnbias{i}
                (scale, shift) = (0.1, 0)
            }
            for i in 0..<tensor.count { tensor[i] = T(shift + scale * generator.nextNormal()) }
        }
        return table
    }
}
