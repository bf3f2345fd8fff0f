/// One batch through the recurrent model for the gradient check and the PyTorch export.
///
/// The forward is written again here word-major, as makemore runs it (every step for the whole
/// batch, `(words, H)`), with whole-tensor operations and `sigmoid(v) = 1 / (1 + e^-v)`,
/// independently of the cell layers and of the model's time-major order. It keeps by name:
/// `emb (rows, E)` over the batch's packed positions; the state of every step
/// `h.{t} (words, H)` for `t` in `0 ..< blockSize`, zero for the words already ended (their
/// states feed nothing, so their gradients are zero, as in makemore's padded forward); and
/// `logits (rows, vocab)`. The parameters are kept under their state_dict names.
/// The backward is the model's own (`RecurrentModel.forward` and `backward` on the same
/// parameters and batch), reordered to these layouts.
package struct RecurrentPass<T: Scalar, Cell: RecurrentCell>: GradientPass {
    package let config: RecurrentConfig<Cell>
    package let batch: WordBatch
    package let parameters: ParameterTable<T>
    package let values: [String: Tensor<T>]
    package let loss: T

    package init(parameters: ParameterTable<T>, config: RecurrentConfig<Cell>, batch: WordBatch) throws {
        try batch.checkForGradientPass(blockSize: config.blockSize)
        var trace = Trace<T>(baseline: nil, override: nil)
        loss = RecurrentPass.forward(&trace, parameters: parameters, config: config, batch: batch)
        self.config = config
        self.batch = batch
        self.parameters = parameters
        values = trace.values
    }

    package func loss(replacing name: String, with value: Tensor<T>) -> T {
        var trace = Trace<T>(baseline: values, override: (name, value))
        return RecurrentPass.forward(&trace, parameters: parameters, config: config, batch: batch)
    }

    private static func forward(
        _ t: inout Trace<T>, parameters table: ParameterTable<T>, config: RecurrentConfig<Cell>, batch: WordBatch
    ) -> T {
        let e = config.embeddingSize, n = config.hiddenSize, words = batch.count
        func parameter(_ name: String) -> Tensor<T> { t.keep(name, table[name]) }
        let wte = parameter("wte.weight")
        let emb = t.keep("emb", embed(batch, wte))
        let start = parameter("start")
        let linears = Cell.linearNames.map { (parameter("cell.\($0).weight"), parameter("cell.\($0).bias")) }
        var hidden: [Tensor<T>] = []
        var previous = Tensor<T>(shape: [words, n])
        for w in 0..<words { for j in 0..<n { previous[w, j] = start[0, j] } }
        for step in 0..<config.blockSize {
            // x: each running word's character at this step (zero rows for the words ended)
            let x = Tensor<T>(shape: [words, e])
            var running: [Bool] = []
            for w in 0..<words {
                let positions = batch.positions(ofWord: w)
                running.append(step < positions.count)
                if step < positions.count { for j in 0..<e { x[w, j] = emb[positions.lowerBound + step, j] } }
            }
            let next = cell(x, previous, linears)
            for w in 0..<words where !running[w] { for j in 0..<n { next[w, j] = 0 } }
            previous = t.keep("h.\(step)", next)
            hidden.append(previous)
        }
        // logits = lm_head(h) at every position
        let states = Tensor<T>(shape: [batch.rows, n])
        for w in 0..<words {
            for (step, r) in batch.positions(ofWord: w).enumerated() { for j in 0..<n { states[r, j] = hidden[step][w, j] } }
        }
        let headWeight = parameter("lm_head.weight"), headBias = parameter("lm_head.bias")
        let logits = t.keep("logits", linear(states, headWeight, headBias))
        // loss = mean over positions of logsumexp(logits) - logits[target]
        var total: T = 0
        for r in 0..<batch.rows {
            let row = logits.rows(r..<r + 1).array, maximum = row.max()!
            total += T.log(row.reduce(0) { $0 + T.exp($1 - maximum) }) + maximum - row[Int(batch.targets[r])]
        }
        return total / T(batch.rows)
    }

    /// makemore's cells on `(words, ·)`: `RNNCell` or `GRUCell`, by the number of Linears.
    private static func cell(_ x: Tensor<T>, _ h: Tensor<T>, _ linears: [(Tensor<T>, Tensor<T>)]) -> Tensor<T> {
        let xh = concatenate(x, h)
        if linears.count == 1 { return linear(xh, linears[0].0, linears[0].1).map { T.tanh($0) } }
        let (toZ, toR, toHbar) = (linears[0], linears[1], linears[2])
        let r = linear(xh, toR.0, toR.1).map(sigmoid)
        let hbar = linear(concatenate(x, r * h), toHbar.0, toHbar.1).map { T.tanh($0) }
        let z = linear(xh, toZ.0, toZ.1).map(sigmoid)
        return (z.map { 1 - $0 }) * h + z * hbar
    }

    private static func sigmoid(_ v: T) -> T { 1 / (1 + T.exp(-v)) }

    /// `[a, b]` side by side: `(n, p) , (n, q) -> (n, p + q)`.
    private static func concatenate(_ a: Tensor<T>, _ b: Tensor<T>) -> Tensor<T> {
        let p = a.columns, q = b.columns
        let out = Tensor<T>(shape: [a.rows, p + q])
        for i in 0..<a.rows {
            for j in 0..<p { out[i, j] = a[i, j] }
            for j in 0..<q { out[i, p + j] = b[i, j] }
        }
        return out
    }

    /// `wte[inputs[r]]` for every row.
    private static func embed(_ batch: WordBatch, _ wte: Tensor<T>) -> Tensor<T> {
        let out = Tensor<T>(shape: [batch.rows, wte.columns])
        for r in 0..<batch.rows { for j in 0..<wte.columns { out[r, j] = wte[Int(batch.inputs[r]), j] } }
        return out
    }

    /// `x @ weightᵀ + bias`, the weight `(out, in)`.
    private static func linear(_ x: Tensor<T>, _ weight: Tensor<T>, _ bias: Tensor<T>) -> Tensor<T> {
        x.matmul(weight.transposed()) + bias
    }

    /// From the loss back: `logits`, `lm_head`, the states last step first, the cell's
    /// parameters, `start`, `emb`, `wte`.
    package var gradientOrder: [String] {
        var names = ["logits", "lm_head.weight", "lm_head.bias"]
        names += (0..<config.blockSize).reversed().map { "h.\($0)" }
        for name in Cell.linearNames { names += ["cell.\(name).weight", "cell.\(name).bias"] }
        return names + ["start", "emb", "wte.weight"]
    }

    /// The model's backward on this batch: every parameter's gradient, and (reordered from
    /// time-major) the gradients of `logits`, `h.{t}` and `emb`.
    package func backward() -> [String: Tensor<T>] {
        let model = RecurrentModel<T, Cell>(config: config, parameters: parameters.copy())
        _ = model.forward(batch)
        model.backward(batch)
        let d = model.dActivations!, s = model.activations!.steps
        let e = config.embeddingSize, n = config.hiddenSize, v = config.vocabularySize, w = e + n
        let logits = Tensor<T>(shape: [batch.rows, v]), emb = Tensor<T>(shape: [batch.rows, e])
        for i in 0..<batch.rows {
            let r = s.packedRow[i]
            for j in 0..<v { logits[r, j] = d.logits[i, j] }
            for j in 0..<e { emb[r, j] = d.xh.pointer[i * w + j] }
        }
        var result: [String: Tensor<T>] = ["logits": logits, "emb": emb]
        for step in 0..<config.blockSize {
            let h = Tensor<T>(shape: [batch.count, n])
            if step < s.count {
                for (k, i) in s.rows(ofStep: step).enumerated() { for j in 0..<n { h[s.order[k], j] = d.h[i, j] } }
            }
            result["h.\(step)"] = h
        }
        for entry in model.parameters.entries {
            result[entry.name] = model.parameters.gradient(entry.name)
        }
        return result
    }

    /// The backward above is the model's own: there is no separate step-by-step chain to compare.
    package func modelGradients() -> [(name: String, gradient: Tensor<T>)] { [] }
}
