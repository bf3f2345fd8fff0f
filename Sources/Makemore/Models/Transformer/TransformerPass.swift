/// One batch through the Transformer for the gradient check and the PyTorch export.
///
/// The forward is written again here with whole-tensor operations (`Tensor.matmul`,
/// broadcasting arithmetic) and plain loops for the attention, independently of the layers,
/// keeping every layer's output by name, all `(rows, width)` over the batch's packed positions:
/// `emb`; per block `h.{i}.` `ln_1`, `attn.qkv`, `attn.y`, `attn.out`, `mid` (the residual
/// stream after the attention), `ln_2`, `mlp.fc`, `mlp.gelu`, `mlp.out`, `out` (the block's
/// output); then `ln_f` and `logits`. The parameters are kept under their state_dict names.
/// The backward is the model's own (`Transformer.forward` and `backward` on the same parameters
/// and batch): the gradient check compares every gradient it writes with finite differences of
/// this forward.
package struct TransformerPass<T: Scalar>: GradientPass {
    package let config: TransformerConfig
    package let batch: WordBatch
    package let parameters: ParameterTable<T>
    package let values: [String: Tensor<T>]
    package let loss: T

    package init(parameters: ParameterTable<T>, config: TransformerConfig, batch: WordBatch) throws {
        try batch.checkForGradientPass(blockSize: config.blockSize)
        var trace = Trace<T>(baseline: nil, override: nil)
        loss = TransformerPass.forward(&trace, parameters: parameters, config: config, batch: batch)
        self.config = config
        self.batch = batch
        self.parameters = parameters
        values = trace.values
    }

    package func loss(replacing name: String, with value: Tensor<T>) -> T {
        var trace = Trace<T>(baseline: values, override: (name, value))
        return TransformerPass.forward(&trace, parameters: parameters, config: config, batch: batch)
    }

    private static func forward(_ t: inout Trace<T>, parameters table: ParameterTable<T>, config: TransformerConfig, batch: WordBatch) -> T {
        let n = batch.rows, c = config.embeddingSize
        func parameter(_ name: String) -> Tensor<T> { t.keep(name, table[name]) }
        // x = wte[idx] + wpe[pos]
        let wte = parameter("transformer.wte.weight"), wpe = parameter("transformer.wpe.weight")
        var x = t.keep("emb", embed(batch, wte, wpe, width: c))
        for i in 0..<config.layers {
            // Each parameter is kept just before its use: a replay from it reuses what came before.
            let h = "transformer.h.\(i)", k = "h.\(i)"
            func parameters(_ name: String) -> (Tensor<T>, Tensor<T>) { (parameter("\(h).\(name).weight"), parameter("\(h).\(name).bias")) }
            let (ln1W, ln1B) = parameters("ln_1")
            let ln1 = t.keep("\(k).ln_1", layerNorm(x, ln1W, ln1B, config))
            let (attnW, attnB) = parameters("attn.c_attn")
            let qkv = t.keep("\(k).attn.qkv", linear(ln1, attnW, attnB))
            let y = t.keep("\(k).attn.y", attention(qkv, batch, config))
            let (projW, projB) = parameters("attn.c_proj")
            let attnOut = t.keep("\(k).attn.out", linear(y, projW, projB))
            let mid = t.keep("\(k).mid", x + attnOut)
            let (ln2W, ln2B) = parameters("ln_2")
            let ln2 = t.keep("\(k).ln_2", layerNorm(mid, ln2W, ln2B, config))
            let (fcW, fcB) = parameters("mlp.c_fc")
            let fc = t.keep("\(k).mlp.fc", linear(ln2, fcW, fcB))
            let gelu = t.keep("\(k).mlp.gelu", fc.map(gelu))
            let (mlpW, mlpB) = parameters("mlp.c_proj")
            let mlpOut = t.keep("\(k).mlp.out", linear(gelu, mlpW, mlpB))
            x = t.keep("\(k).out", mid + mlpOut)
        }
        let (lnFW, lnFB) = (parameter("transformer.ln_f.weight"), parameter("transformer.ln_f.bias"))
        let lnF = t.keep("ln_f", layerNorm(x, lnFW, lnFB, config))
        let lmHead = parameter("lm_head.weight")
        let logits = t.keep("logits", lnF.matmul(lmHead.transposed()))
        // loss = mean over positions of logsumexp(logits) - logits[target]
        var total: T = 0
        for r in 0..<n {
            let row = logits.rows(r..<r + 1).array, maximum = row.max()!
            total += T.log(row.reduce(0) { $0 + T.exp($1 - maximum) }) + maximum - row[Int(batch.targets[r])]
        }
        return total / T(n)
    }

    /// `½ v (1 + tanh(√(2/π) (v + 0.044715 v³)))`.
    private static func gelu(_ v: T) -> T {
        0.5 * v * (1 + T.tanh(T((2 / Double.pi).squareRoot()) * (v + T(0.044715) * v * v * v)))
    }

    /// `wte[inputs[r]] + wpe[t]`, row `r` at position `t` of its word.
    private static func embed(_ batch: WordBatch, _ wte: Tensor<T>, _ wpe: Tensor<T>, width c: Int) -> Tensor<T> {
        let out = Tensor<T>(shape: [batch.rows, c])
        for w in 0..<batch.count {
            for (t, r) in batch.positions(ofWord: w).enumerated() {
                for j in 0..<c { out[r, j] = wte[Int(batch.inputs[r]), j] + wpe[t, j] }
            }
        }
        return out
    }

    /// `(x - mean) / √(var + eps) · weight + bias`, statistics over each row (biased variance).
    private static func layerNorm(_ x: Tensor<T>, _ weight: Tensor<T>, _ bias: Tensor<T>, _ config: TransformerConfig) -> Tensor<T> {
        let c = T(x.columns)
        let mean = (1 / c) * x.sumOverColumns()  // (rows, 1)
        let diff = x - mean
        let variance = (1 / c) * (diff * diff).sumOverColumns()
        return diff * (variance + T(config.epsilon)).pow(-0.5) * weight + bias
    }

    /// `x @ weightᵀ + bias`, the weight `(out, in)`.
    private static func linear(_ x: Tensor<T>, _ weight: Tensor<T>, _ bias: Tensor<T>) -> Tensor<T> {
        x.matmul(weight.transposed()) + bias
    }

    /// Per word and head, `softmax(q kᵀ / √hs)` over the positions `u ≤ t`, times `v`.
    private static func attention(_ qkv: Tensor<T>, _ batch: WordBatch, _ config: TransformerConfig) -> Tensor<T> {
        let c = config.embeddingSize, hs = config.headSize
        let y = Tensor<T>(shape: [batch.rows, c])
        for w in 0..<batch.count {
            let rows = batch.positions(ofWord: w)
            for h in 0..<config.heads {
                let columns = h * hs..<(h + 1) * hs
                for t in rows {
                    let scores = rows.lowerBound...t
                    let logits = scores.map { u in columns.reduce(T(0)) { $0 + qkv[t, $1] * qkv[u, c + $1] } / T(hs).squareRoot() }
                    let maximum = logits.max()!
                    let e = logits.map { T.exp($0 - maximum) }, sum = e.reduce(0, +)
                    for (u, weight) in zip(scores, e) {
                        for j in columns { y[t, j] += weight / sum * qkv[u, 2 * c + j] }
                    }
                }
            }
        }
        return y
    }

    /// From the loss back: `logits`, `lm_head`, `ln_f`, then per block (last first) its output,
    /// the MLP half and the attention half, each layer's output before its parameters; then
    /// `emb`, `wpe`, `wte`.
    package var gradientOrder: [String] {
        var names = ["logits", "lm_head.weight", "ln_f", "transformer.ln_f.weight", "transformer.ln_f.bias"]
        for i in stride(from: config.layers - 1, through: 0, by: -1) {
            let h = "transformer.h.\(i)", k = "h.\(i)"
            names += [
                "\(k).out", "\(k).mlp.out", "\(h).mlp.c_proj.weight", "\(h).mlp.c_proj.bias", "\(k).mlp.gelu", "\(k).mlp.fc",
                "\(h).mlp.c_fc.weight", "\(h).mlp.c_fc.bias", "\(k).ln_2", "\(h).ln_2.weight", "\(h).ln_2.bias", "\(k).mid",
                "\(k).attn.out", "\(h).attn.c_proj.weight", "\(h).attn.c_proj.bias", "\(k).attn.y", "\(k).attn.qkv",
                "\(h).attn.c_attn.weight", "\(h).attn.c_attn.bias", "\(k).ln_1", "\(h).ln_1.weight", "\(h).ln_1.bias",
            ]
        }
        return names + ["emb", "transformer.wpe.weight", "transformer.wte.weight"]
    }

    /// The model's backward on this batch: every parameter's gradient, and each layer output's.
    package func backward() -> [String: Tensor<T>] {
        let model = Transformer<T>(config: config, parameters: parameters.copy())
        _ = model.forward(batch)
        model.backward(batch)
        let d = model.dActivations!
        var result: [String: Tensor<T>] = ["logits": d.logits, "ln_f": d.lnF, "emb": d.residual[0]]
        for (i, b) in d.blocks.enumerated() {
            let k = "h.\(i)"
            result["\(k).ln_1"] = b.ln1
            result["\(k).attn.qkv"] = b.qkv
            result["\(k).attn.y"] = b.y
            result["\(k).attn.out"] = b.attnOut
            result["\(k).mid"] = b.mid
            result["\(k).ln_2"] = b.ln2
            result["\(k).mlp.fc"] = b.fc
            result["\(k).mlp.gelu"] = b.gelu
            result["\(k).mlp.out"] = b.mlpOut
            result["\(k).out"] = d.residual[i + 1]
        }
        for entry in model.parameters.entries {
            result[entry.name] = model.parameters.gradient(entry.name)
        }
        return result
    }

    /// The backward above is the model's own: there is no separate step-by-step chain to compare.
    package func modelGradients() -> [(name: String, gradient: Tensor<T>)] { [] }
}
