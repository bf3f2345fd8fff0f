/// The Transformer's input: each position's character embedding plus its position's embedding,
/// `x = wte[idx] + wpe[pos]` (makemore's `tok_emb + pos_emb`), on the packed positions of a
/// `WordBatch` (position `t` of a word is row `starts[w] + t`).
public struct PositionEmbedding<T: Scalar> {
    /// `(vocabularySize, C)` and `(blockSize, C)`.
    public let tokens, positions: Tensor<T>
    /// Their gradients, the same shapes, which the backward adds into.
    public let dTokens, dPositions: Tensor<T>

    /// The embedding over views of a parameter table: the tables and their gradients.
    public init(tokens: Tensor<T>, positions: Tensor<T>, dTokens: Tensor<T>, dPositions: Tensor<T>) {
        self.tokens = tokens
        self.positions = positions
        self.dTokens = dTokens
        self.dPositions = dPositions
    }

    /// Both tables `N(0, 1)`, as `nn.Embedding` draws them, characters first.
    public func initialize(using generator: inout SeededGenerator) {
        tokens.fillNormal(using: &generator)
        positions.fillNormal(using: &generator)
    }

    /// `out[r] = wte[inputs[r]] + wpe[t]` for each row `r`, position `t` of its word: `(rows, C)`.
    public func forward(_ batch: WordBatch, into out: Tensor<T>) {
        let c = tokens.columns
        for w in 0..<batch.count {
            for (t, r) in batch.positions(ofWord: w).enumerated() {
                let token = tokens.pointer + Int(batch.inputs[r]) * c, position = positions.pointer + t * c
                for j in 0..<c { out[r, j] = token[j] + position[j] }
            }
        }
    }

    /// Adds each row's gradient into the row of `wte` and of `wpe` it came from (a scatter-add:
    /// a character or position used twice gets both):
    ///
    ///     dwte[inputs[r]] += dout[r]        dwpe[t] += dout[r]
    public func backward(_ batch: WordBatch, dOut: Tensor<T>) {
        let c = tokens.columns
        for w in 0..<batch.count {
            for (t, r) in batch.positions(ofWord: w).enumerated() {
                let dToken = dTokens.pointer + Int(batch.inputs[r]) * c, dPosition = dPositions.pointer + t * c
                for j in 0..<c {
                    dToken[j] += dOut[r, j]
                    dPosition[j] += dOut[r, j]
                }
            }
        }
    }

    /// `forward` on the words `words` of `batch`, into rows of `out (rows, C)`.
    func forward(_ batch: WordBatch, words: Range<Int>, into out: UnsafeMutablePointer<T>) {
        let c = tokens.columns
        for w in words {
            for (t, r) in batch.positions(ofWord: w).enumerated() {
                let token = tokens.pointer + Int(batch.inputs[r]) * c, position = positions.pointer + t * c, o = out + r * c
                for j in 0..<c { o[j] = token[j] + position[j] }
            }
        }
    }

    /// `backward` for the features (columns) `features` of both tables, which it first zeroes:
    /// each column is a scatter-add of its own, in the order of the rows.
    func backward(_ batch: WordBatch, dOut: UnsafePointer<T>, features: Range<Int>) {
        let c = tokens.columns
        for row in 0..<dTokens.rows { (dTokens.pointer + row * c + features.lowerBound).update(repeating: 0, count: features.count) }
        for row in 0..<dPositions.rows { (dPositions.pointer + row * c + features.lowerBound).update(repeating: 0, count: features.count) }
        for w in 0..<batch.count {
            for (t, r) in batch.positions(ofWord: w).enumerated() {
                let dToken = dTokens.pointer + Int(batch.inputs[r]) * c, dPosition = dPositions.pointer + t * c, d = dOut + r * c
                for j in features {
                    dToken[j] += d[j]
                    dPosition[j] += d[j]
                }
            }
        }
    }
}
