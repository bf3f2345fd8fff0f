/// A minibatch: `count` examples drawn uniformly, with replacement, from a data set, as the
/// lecture's `torch.randint(0, Xtr.shape[0], (batch_size,))` does.
public struct Batch: Sendable {
    /// `(count, blockSize)` character indices.
    public var contexts: [Int32]
    /// `[count]` target indices.
    public var targets: [Int32]

    /// Number of examples.
    public var count: Int { targets.count }

    /// A batch of `count` examples, every index 0, to fill with `refill(from:using:)`.
    public init(count: Int, blockSize: Int) {
        contexts = [Int32](repeating: 0, count: count * blockSize)
        targets = [Int32](repeating: 0, count: count)
    }

    /// The batch of these examples: `contexts (count, blockSize)`, `targets [count]`.
    public init(contexts: [Int32], targets: [Int32]) {
        precondition(targets.isEmpty ? contexts.isEmpty : contexts.count % targets.count == 0, "contexts do not match targets")
        self.contexts = contexts
        self.targets = targets
    }

    /// A batch of `count` examples drawn from `dataset`.
    public init(drawingFrom dataset: Dataset, count: Int, using generator: inout SeededGenerator) {
        self.init(count: count, blockSize: dataset.blockSize)
        refill(from: dataset, using: &generator)
    }

    /// Draws a new batch of the same size into the same storage (no allocation).
    public mutating func refill(from dataset: Dataset, using generator: inout SeededGenerator) {
        let b = dataset.blockSize
        contexts.withUnsafeMutableBufferPointer { contexts in
            targets.withUnsafeMutableBufferPointer { targets in
                for i in 0..<targets.count {
                    let example = generator.nextIndex(below: dataset.count)
                    targets[i] = dataset.example(example, context: contexts.baseAddress! + i * b)
                }
            }
        }
    }

    /// Calls `body` with pointers to the contexts and the targets.
    func withPointers<R>(_ body: (UnsafePointer<Int32>, UnsafePointer<Int32>) -> R) -> R {
        contexts.withUnsafeBufferPointer { contexts in
            targets.withUnsafeBufferPointer { targets in body(contexts.baseAddress!, targets.baseAddress!) }
        }
    }
}
