/// One batch through the Bigram for the gradient check and the PyTorch export: the forward
/// written again with plain loops, keeping the parameter `logits` and the batch's logits
/// `row_logits` `(rows, vocab)`; the backward is the model's own.
package struct BigramPass<T: Scalar>: GradientPass {
    package let config: BigramConfig
    package let batch: WordBatch
    package let parameters: ParameterTable<T>
    package let values: [String: Tensor<T>]
    package let loss: T

    package init(parameters: ParameterTable<T>, config: BigramConfig, batch: WordBatch) throws {
        try batch.checkForGradientPass(blockSize: config.blockSize)
        var trace = Trace<T>(baseline: nil, override: nil)
        loss = BigramPass.forward(&trace, parameters: parameters, config: config, batch: batch)
        self.config = config
        self.batch = batch
        self.parameters = parameters
        values = trace.values
    }

    package func loss(replacing name: String, with value: Tensor<T>) -> T {
        var trace = Trace<T>(baseline: values, override: (name, value))
        return BigramPass.forward(&trace, parameters: parameters, config: config, batch: batch)
    }

    private static func forward(_ t: inout Trace<T>, parameters table: ParameterTable<T>, config: BigramConfig, batch: WordBatch) -> T {
        let v = config.vocabularySize, n = batch.rows
        let logits = t.keep("logits", table["logits"])
        // row_logits[r] = logits[inputs[r]]
        let rows = t.keep("row_logits", {
            let out = Tensor<T>(shape: [n, v])
            for r in 0..<n { for j in 0..<v { out[r, j] = logits[Int(batch.inputs[r]), j] } }
            return out
        }())
        return meanCrossEntropy(rows, targets: batch.targets)
    }

    package var gradientOrder: [String] { ["row_logits", "logits"] }

    package func backward() -> [String: Tensor<T>] {
        let model = Bigram<T>(config: config, parameters: parameters.copy())
        _ = model.forward(batch)
        model.backward(batch)
        return ["row_logits": model.dLogits!, "logits": model.parameters.gradient("logits")]
    }

    package func modelGradients() -> [(name: String, gradient: Tensor<T>)] { [] }
}

/// `mean over rows of logsumexp(logits[r]) - logits[r, targets[r]]`, written plainly.
func meanCrossEntropy<T: Scalar>(_ logits: Tensor<T>, targets: [Int32]) -> T {
    var total: T = 0
    for r in 0..<logits.rows {
        let row = logits.rows(r..<r + 1).array, maximum = row.max()!
        total += T.log(row.reduce(0) { $0 + T.exp($1 - maximum) }) + maximum - row[Int(targets[r])]
    }
    return total / T(logits.rows)
}
