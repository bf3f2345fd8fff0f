/// One batch through the BoW for the gradient check and the PyTorch export.
///
/// The forward is written again here with whole-tensor operations and plain loops, independently
/// of the layers, keeping every layer's output by name, all `(rows, width)` over the batch's packed
/// positions: `emb`, `cbow`, `mid` (`emb + cbow`), `mlp.fc`, `mlp.tanh`, `mlp.out`, `out`
/// (`mid + mlp.out`), `logits`. The parameters are kept under their state_dict names. The backward
/// is the model's own (`BoW.forward` and `backward`).
package struct BoWPass<T: Scalar>: GradientPass {
    package let config: BoWConfig
    package let batch: WordBatch
    package let parameters: ParameterTable<T>
    package let values: [String: Tensor<T>]
    package let loss: T

    package init(parameters: ParameterTable<T>, config: BoWConfig, batch: WordBatch) throws {
        try batch.checkForGradientPass(blockSize: config.blockSize)
        var trace = Trace<T>(baseline: nil, override: nil)
        loss = BoWPass.forward(&trace, parameters: parameters, config: config, batch: batch)
        self.config = config
        self.batch = batch
        self.parameters = parameters
        values = trace.values
    }

    package func loss(replacing name: String, with value: Tensor<T>) -> T {
        var trace = Trace<T>(baseline: values, override: (name, value))
        return BoWPass.forward(&trace, parameters: parameters, config: config, batch: batch)
    }

    private static func forward(_ t: inout Trace<T>, parameters table: ParameterTable<T>, config: BoWConfig, batch: WordBatch) -> T {
        let c = config.embeddingSize
        func parameter(_ name: String) -> Tensor<T> { t.keep(name, table[name]) }
        // x = wte[idx] + wpe[pos]
        let wte = parameter("wte.weight"), wpe = parameter("wpe.weight")
        let emb = t.keep("emb", {
            let out = Tensor<T>(shape: [batch.rows, c])
            for w in 0..<batch.count {
                for (position, r) in batch.positions(ofWord: w).enumerated() {
                    for j in 0..<c { out[r, j] = wte[Int(batch.inputs[r]), j] + wpe[position, j] }
                }
            }
            return out
        }())
        // cbow[t] = the mean of emb[u] over u ≤ t of the word, summed afresh for each t
        let cbow = t.keep("cbow", {
            let out = Tensor<T>(shape: [batch.rows, c])
            for w in 0..<batch.count {
                let rows = batch.positions(ofWord: w)
                for r in rows {
                    for j in 0..<c {
                        out[r, j] = (rows.lowerBound...r).reduce(T(0)) { $0 + emb[$1, j] } / T(r - rows.lowerBound + 1)
                    }
                }
            }
            return out
        }())
        let mid = t.keep("mid", emb + cbow)
        let fcW = parameter("context_block.mlp.c_fc.weight"), fcB = parameter("context_block.mlp.c_fc.bias")
        let fc = t.keep("mlp.fc", mid.matmul(fcW.transposed()) + fcB)
        let tanh = t.keep("mlp.tanh", fc.map { T.tanh($0) })
        let projW = parameter("context_block.mlp.c_proj.weight"), projB = parameter("context_block.mlp.c_proj.bias")
        let mlpOut = t.keep("mlp.out", tanh.matmul(projW.transposed()) + projB)
        let out = t.keep("out", mid + mlpOut)
        let headW = parameter("lm_head.weight"), headB = parameter("lm_head.bias")
        let logits = t.keep("logits", out.matmul(headW.transposed()) + headB)
        return meanCrossEntropy(logits, targets: batch.targets)
    }

    /// From the loss back: `logits`, `lm_head`, `out`, the MLP, `mid`, `cbow`, `emb`, `wpe`, `wte`.
    package var gradientOrder: [String] {
        [
            "logits", "lm_head.weight", "lm_head.bias", "out", "mlp.out", "context_block.mlp.c_proj.weight",
            "context_block.mlp.c_proj.bias", "mlp.tanh", "mlp.fc", "context_block.mlp.c_fc.weight", "context_block.mlp.c_fc.bias",
            "mid", "cbow", "emb", "wpe.weight", "wte.weight",
        ]
    }

    /// The model's backward on this batch: every parameter's gradient, and each layer output's.
    package func backward() -> [String: Tensor<T>] {
        let model = BoW<T>(config: config, parameters: parameters.copy())
        _ = model.forward(batch)
        model.backward(batch)
        let d = model.dActivations!
        var result: [String: Tensor<T>] = [
            "logits": d.logits, "out": d.out, "mlp.out": d.mlpOut, "mlp.tanh": d.tanh, "mlp.fc": d.fc, "mid": d.mid,
            "cbow": d.cbow, "emb": d.emb,
        ]
        for entry in model.parameters.entries {
            result[entry.name] = model.parameters.gradient(entry.name)
        }
        return result
    }

    package func modelGradients() -> [(name: String, gradient: Tensor<T>)] { [] }
}
