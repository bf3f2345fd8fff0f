/// The lecture's exercise 1: the forward pass broken into every small step, each step's result
/// kept by name, and the backward pass written by hand through every one of them in reverse.
///
/// This is the teaching path: each line allocates a new tensor, as the PyTorch version does.
/// Training uses the fused layers of `MLP`; the gradient check holds the two equal, and both
/// against finite differences.
public struct StepByStep<T: Scalar>: GradientPass {
    /// The model's sizes.
    public let config: MLPConfig
    /// The batch the pass ran on.
    public let batch: Batch
    /// `(batchSize, blockSize)` character indices.
    public var contexts: [Int32] { batch.contexts }
    /// `[batchSize]` target indices.
    public var targets: [Int32] { batch.targets }
    /// The model's tensors the pass read (not modified by it).
    public let parameters: ParameterTable<T>
    /// Every parameter used and every intermediate, by name.
    public let values: [String: Tensor<T>]
    /// The names of `values` in the order the forward computed them.
    public let order: [String]
    /// The mean cross-entropy of the batch, in nats.
    public let loss: T

    /// Examples in the batch, `n`.
    public var batchSize: Int { targets.count }

    /// Runs the forward pass on one batch, with batch-norm in training mode (the running
    /// statistics are read by nobody here and left as they are).
    public init(parameters: ParameterTable<T>, config: MLPConfig, batch: Batch) throws {
        guard batch.count >= 2 else {
            throw MakemoreError("batch-norm needs a batch of at least 2 examples to compute a variance; got \(batch.count)")
        }
        precondition(batch.contexts.count == batch.count * config.blockSize)
        var trace = Trace<T>(baseline: nil, override: nil)
        let loss = StepByStep.forward(&trace, parameters: parameters, config: config, contexts: batch.contexts, targets: batch.targets)
        self.config = config
        self.batch = batch
        self.parameters = parameters
        self.values = trace.values
        self.order = trace.order
        self.loss = loss
    }

    /// The loss with the tensor `name` replaced by `value`: the steps before it are taken from
    /// this pass, the steps after it are computed again. This is what a finite difference needs.
    public func loss(replacing name: String, with value: Tensor<T>) -> T {
        var trace = Trace<T>(baseline: values, override: (name, value))
        return StepByStep.forward(&trace, parameters: parameters, config: config, contexts: contexts, targets: targets)
    }

    // MARK: Forward

    private static func forward(
        _ t: inout Trace<T>, parameters table: ParameterTable<T>, config: MLPConfig,
        contexts: [Int32], targets: [Int32]
    ) -> T {
        let n = targets.count, nT = T(n)
        let eps = T(config.epsilon)
        let p = MLPParameters(config, table, table.values)

        let C = t.keep("C", p.C)
        let emb = t.keep("emb", gatherRows(C, contexts, blockSize: config.blockSize))  // (n, block, embed)
        let embcat = t.keep("embcat", emb.reshaped([n, config.inputSize]))  // (n, block * embed)

        var x = embcat
        for i in 1...config.hiddenLayers {
            let W = t.keep("W\(i)", p.hidden[i - 1].W)
            let b = t.keep("b\(i)", p.hidden[i - 1].b)
            let hprebn = t.keep("hprebn\(i)", x.matmul(W) + b)  // (n, hidden)
            // Batch norm, one operation a line.
            let bnmeani = t.keep("bnmeani\(i)", (1 / nT) * hprebn.sumOverRows())  // (1, hidden)
            let bndiff = t.keep("bndiff\(i)", hprebn - bnmeani)
            let bndiff2 = t.keep("bndiff2\(i)", bndiff * bndiff)
            let bnvar = t.keep("bnvar\(i)", (1 / (nT - 1)) * bndiff2.sumOverRows())  // Bessel: 1/(n-1)
            let bnvar_inv = t.keep("bnvar_inv\(i)", (bnvar + eps).pow(-0.5))
            let bnraw = t.keep("bnraw\(i)", bndiff * bnvar_inv)
            let bngain = t.keep("bngain\(i)", p.hidden[i - 1].gain)
            let bnbias = t.keep("bnbias\(i)", p.hidden[i - 1].bias)
            let hpreact = t.keep("hpreact\(i)", bngain * bnraw + bnbias)
            let h = t.keep("h\(i)", hpreact.tanh())
            x = h
        }
        let L = config.hiddenLayers + 1
        let W = t.keep("W\(L)", p.W)
        let b = t.keep("b\(L)", p.b)
        let logits = t.keep("logits", x.matmul(W) + b)  // (n, vocab)
        // Cross-entropy, one operation a line.
        let logit_maxes = t.keep("logit_maxes", logits.maxOverColumns().values)  // (n, 1)
        let norm_logits = t.keep("norm_logits", logits - logit_maxes)  // subtracting the max keeps exp finite
        let counts = t.keep("counts", norm_logits.exp())
        let counts_sum = t.keep("counts_sum", counts.sumOverColumns())  // (n, 1)
        let counts_sum_inv = t.keep("counts_sum_inv", counts_sum.pow(-1))
        let probs = t.keep("probs", counts * counts_sum_inv)
        let logprobs = t.keep("logprobs", probs.log())
        var loss: T = 0
        for i in 0..<n { loss -= logprobs[i, Int(targets[i])] }
        return loss / nT
    }

    /// `C[contexts]`: `(n, blockSize, embed)`.
    private static func gatherRows(_ C: Tensor<T>, _ contexts: [Int32], blockSize: Int) -> Tensor<T> {
        let e = C.columns
        let result = Tensor<T>(shape: [contexts.count / blockSize, blockSize, e])
        for (position, index) in contexts.enumerated() {
            (result.pointer + position * e).update(from: C.pointer + Int(index) * e, count: e)
        }
        return result
    }

    // MARK: Backward

    /// The gradient of the loss with respect to every parameter and intermediate, written by
    /// hand, one line per forward line, in reverse. Keys are the names of `values`.
    public func backward() -> [String: Tensor<T>] {
        let n = batchSize, nT = T(n)
        let v = values
        var d: [String: Tensor<T>] = [:]

        // loss = -mean(logprobs[i, targets[i]]): each picked entry gets -1/n, the rest nothing.
        let dlogprobs = Tensor<T>.oneHot(targets.map(Int.init), columns: config.vocabularySize, value: -1 / nT)
        // logprobs = log(probs)
        let dprobs = dlogprobs / v["probs"]!
        // probs = counts * counts_sum_inv: counts_sum_inv was broadcast over the columns, so sum.
        let dcounts_sum_inv = (v["counts"]! * dprobs).sumOverColumns()
        var dcounts = v["counts_sum_inv"]! * dprobs
        // counts_sum_inv = counts_sum ** -1
        let dcounts_sum = (-1 * v["counts_sum"]!.pow(-2)) * dcounts_sum_inv
        // counts_sum = counts.sum(1): every count of the row gets the row's gradient.
        dcounts = dcounts + dcounts_sum
        // counts = exp(norm_logits)
        let dnorm_logits = v["counts"]! * dcounts
        // norm_logits = logits - logit_maxes
        let dlogits = dnorm_logits.copy()
        let dlogit_maxes = -dnorm_logits.sumOverColumns()
        // logit_maxes = logits.max(1): the gradient goes to the entry that was the maximum.
        let argmax = v["logits"]!.maxOverColumns().indices
        dlogits += Tensor.oneHot(argmax, columns: config.vocabularySize) * dlogit_maxes
        d["logprobs"] = dlogprobs
        d["probs"] = dprobs
        d["counts_sum_inv"] = dcounts_sum_inv
        d["counts_sum"] = dcounts_sum
        d["counts"] = dcounts
        d["norm_logits"] = dnorm_logits
        d["logit_maxes"] = dlogit_maxes
        d["logits"] = dlogits

        // logits = h @ W + b
        let L = config.hiddenLayers + 1
        let x = "h\(config.hiddenLayers)"
        d[x] = dlogits.matmul(v["W\(L)"]!.transposed())
        d["W\(L)"] = v[x]!.transposed().matmul(dlogits)
        d["b\(L)"] = dlogits.sumOverRows().reshaped([config.vocabularySize])

        for i in stride(from: config.hiddenLayers, through: 1, by: -1) {
            let input = i > 1 ? "h\(i - 1)" : "embcat"
            // h = tanh(hpreact)
            let dhpreact = v["h\(i)"]!.map { 1 - $0 * $0 } * d["h\(i)"]!
            // hpreact = bngain * bnraw + bnbias: gain and bias were broadcast over the rows.
            let dbngain = (v["bnraw\(i)"]! * dhpreact).sumOverRows()
            let dbnbias = dhpreact.sumOverRows()
            let dbnraw = v["bngain\(i)"]! * dhpreact
            // bnraw = bndiff * bnvar_inv
            var dbndiff = v["bnvar_inv\(i)"]! * dbnraw
            let dbnvar_inv = (v["bndiff\(i)"]! * dbnraw).sumOverRows()
            // bnvar_inv = (bnvar + eps) ** -0.5
            let dbnvar = (-0.5 * (v["bnvar\(i)"]! + T(config.epsilon)).pow(-1.5)) * dbnvar_inv
            // bnvar = 1/(n-1) * bndiff2.sum(0)
            let dbndiff2 = Tensor<T>(shape: [n, config.hiddenSize], repeating: 1 / (nT - 1)) * dbnvar
            // bndiff2 = bndiff ** 2: bndiff's second use, so its gradients add.
            dbndiff = dbndiff + 2 * v["bndiff\(i)"]! * dbndiff2
            // bndiff = hprebn - bnmeani
            var dhprebn = dbndiff.copy()
            let dbnmeani = -dbndiff.sumOverRows()
            // bnmeani = 1/n * hprebn.sum(0): hprebn's second use.
            dhprebn = dhprebn + (1 / nT) * dbnmeani
            // hprebn = input @ W + b
            let dinput = dhprebn.matmul(v["W\(i)"]!.transposed())
            d["hpreact\(i)"] = dhpreact
            d["bngain\(i)"] = dbngain
            d["bnbias\(i)"] = dbnbias
            d["bnraw\(i)"] = dbnraw
            d["bnvar_inv\(i)"] = dbnvar_inv
            d["bnvar\(i)"] = dbnvar
            d["bndiff2\(i)"] = dbndiff2
            d["bndiff\(i)"] = dbndiff
            d["bnmeani\(i)"] = dbnmeani
            d["hprebn\(i)"] = dhprebn
            d["W\(i)"] = v[input]!.transposed().matmul(dhprebn)
            d["b\(i)"] = dhprebn.sumOverRows().reshaped([config.hiddenSize])
            d[input] = dinput
        }

        // embcat = emb.view(n, -1)
        let demb = d["embcat"]!.reshaped(v["emb"]!.shape)
        // emb = C[contexts]: each used row of C collects the gradients of all its uses.
        let dC = Tensor<T>(shape: v["C"]!.shape)
        let e = config.embeddingSize
        for (position, index) in contexts.enumerated() {
            for j in 0..<e { dC.pointer[Int(index) * e + j] += demb.pointer[position * e + j] }
        }
        d["emb"] = demb
        d["C"] = dC
        return d
    }

    /// The gradients of the model's plain path (`MLP.forward`, `MLP.backward`: the layers'
    /// fused backward) on the same parameters and batch, for the tensors the step-by-step
    /// backward also has: `logits` (the fused cross-entropy), `hprebn{i}` (the fused batch-norm),
    /// and every trainable parameter.
    public func modelGradients() -> [(name: String, gradient: Tensor<T>)] {
        let model = MLP<T>(config: config, parameters: parameters.copy())
        let a = batch.withPointers { contexts, targets in
            _ = model.forward(contexts: contexts, targets: targets, count: batchSize)
            model.backward(contexts: contexts, targets: targets)
            return model.activations!
        }
        var result: [(name: String, gradient: Tensor<T>)] = [("logits", a.dLogits)]
        for i in (1...config.hiddenLayers).reversed() { result.append(("hprebn\(i)", a.hidden[i - 1].dHprebn)) }
        for entry in model.parameters.entries where entry.spec.isTrainable {
            result.append((entry.name, model.parameters.gradient(entry.name)))
        }
        return result
    }

    public var gradientOrder: [String] { StepByStep.gradientOrder(config) }

    /// The names of the gradients in the order of the lecture's table: from the loss back to `C`.
    public static func gradientOrder(_ config: MLPConfig) -> [String] {
        let L = config.hiddenLayers
        var names = [
            "logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes", "logits",
            "h\(L)", "W\(L + 1)", "b\(L + 1)",
        ]
        for i in stride(from: L, through: 1, by: -1) {
            names += [
                "hpreact\(i)", "bngain\(i)", "bnbias\(i)", "bnraw\(i)", "bnvar_inv\(i)", "bnvar\(i)",
                "bndiff2\(i)", "bndiff\(i)", "bnmeani\(i)", "hprebn\(i)", "W\(i)", "b\(i)",
            ]
            if i > 1 { names.append("h\(i - 1)") }
        }
        return names + ["embcat", "emb", "C"]
    }
}

/// The record of one forward pass: each step's result by name, in order. When replaying with
/// an `override`, steps before the overridden one reuse `baseline` instead of being computed.
struct Trace<T: Scalar> {
    var values: [String: Tensor<T>] = [:]
    var order: [String] = []
    let baseline: [String: Tensor<T>]?
    let override: (name: String, value: Tensor<T>)?
    private var reachedOverride = false

    init(baseline: [String: Tensor<T>]?, override: (name: String, value: Tensor<T>)?) {
        self.baseline = baseline
        self.override = override
    }

    mutating func keep(_ name: String, _ compute: @autoclosure () -> Tensor<T>) -> Tensor<T> {
        let value: Tensor<T>
        if let override, override.name == name {
            value = override.value
            reachedOverride = true
        } else if !reachedOverride, let cached = baseline?[name] {
            value = cached
        } else {
            value = compute()
        }
        values[name] = value
        order.append(name)
        return value
    }
}
