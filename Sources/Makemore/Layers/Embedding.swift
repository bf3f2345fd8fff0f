/// The embedding table `C`: each context of `blockSize` character indices becomes the
/// concatenation of their rows of `C`.
public struct Embedding<T: Scalar> {
    /// `(vocabularySize, embeddingSize)`.
    public let table: Tensor<T>
    /// The gradient of the loss with respect to `table`, `(vocabularySize, embeddingSize)`:
    /// `backward` adds into it, so the caller zeroes it first.
    public let dTable: Tensor<T>

    /// A layer over these tensors (views into a model's parameter table; nothing is copied).
    public init(table: Tensor<T>, dTable: Tensor<T>) {
        self.table = table
        self.dTable = dTable
    }

    /// Width of one character's embedding: the columns of `table`.
    public var embeddingSize: Int { table.columns }

    /// `C ~ N(0, 1)`, as `torch.randn` and `nn.Embedding` draw it.
    public func initialize(using generator: inout SeededGenerator) {
        table.fillNormal(using: &generator)
    }

    /// `embcat = C[contexts].view(n, blockSize * embeddingSize)`.
    ///
    /// - Parameters:
    ///   - contexts: `(n, blockSize)` character indices.
    ///   - blockSize: Characters in each context.
    ///   - out: `(n, blockSize * embeddingSize)`.
    public func forward(contexts: UnsafePointer<Int32>, blockSize: Int, into out: Tensor<T>) {
        let e = embeddingSize
        for position in 0..<out.rows * blockSize {
            (out.pointer + position * e).update(from: table.pointer + Int(contexts[position]) * e, count: e)
        }
    }

    /// `dC[contexts[i][j]] += dembcat[i][j*e ..< (j+1)*e]`: each row of the batch's embeddings
    /// adds its gradient into the row of `C` it came from, repeats included (a scatter-add).
    public func backward(contexts: UnsafePointer<Int32>, blockSize: Int, dOut: Tensor<T>) {
        backward(kernels: .for(T.self), contexts: contexts, blockSize: blockSize, dOut: dOut)
    }

    /// `backward` on the C kernels of `kernels` (`Float`), or in plain Swift when nil (its reference).
    func backward(kernels: KernelVariant?, contexts: UnsafePointer<Int32>, blockSize: Int, dOut: Tensor<T>) {
        let e = embeddingSize
        if let kernels {
            kernels.scatterAddRows(
                indices: contexts, count: dOut.rows * blockSize, dOut: UnsafePointer(dOut.pointer).floats,
                into: dTable.pointer.floats, width: e)
            return
        }
        for position in 0..<dOut.rows * blockSize {
            let dRow = dTable.pointer + Int(contexts[position]) * e
            let dIn = dOut.pointer + position * e
            for j in 0..<e { dRow[j] += dIn[j] }
        }
    }
}
