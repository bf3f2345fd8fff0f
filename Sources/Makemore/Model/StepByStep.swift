/// The lecture's exercise 1: the forward pass broken into every small step, each step's result
/// kept by name, and the backward pass written by hand through every one of them in reverse.
///
/// This is the teaching path: each line allocates a new tensor, as the PyTorch version does.
/// Training uses the fused layers of `MLP`; the gradient check holds the two equal, and both
/// against finite differences.
public struct StepByStep<T: Scalar> {
    public let config: ModelConfig
    /// `(batchSize, blockSize)` character indices.
    public let contexts: [Int32]
    /// `[batchSize]` target indices.
    public let targets: [Int32]
    public let parameters: ParameterTable<T>
    /// Every parameter used and every intermediate, by name.
    public let values: [String: Tensor<T>]
    /// The names of `values` in the order the forward computed them.
    public let order: [String]
    public let loss: T

    public var batchSize: Int { targets.count }

    /// Runs the forward pass on one batch, with batch-norm in training mode (the running
    /// statistics are read by nobody here and left as they are).
    public init(parameters: ParameterTable<T>, config: ModelConfig, contexts: [Int32], targets: [Int32]) throws {
        guard targets.count >= 2 else {
            throw MakemoreError("batch-norm needs a batch of at least 2 examples to compute a variance; got \(targets.count)")
        }
        precondition(contexts.count == targets.count * config.blockSize)
        var trace = Trace<T>(baseline: nil, override: nil)
        let loss = StepByStep.forward(&trace, parameters: parameters, config: config, contexts: contexts, targets: targets)
        self.config = config
        self.contexts = contexts
        self.targets = targets
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
        _ t: inout Trace<T>, parameters p: ParameterTable<T>, config: ModelConfig,
        contexts: [Int32], targets: [Int32]
    ) -> T {
        let n = targets.count, nT = T(n)
        let eps = T(config.epsilon)

        let C = t.keep("C", p["C"])
        let emb = t.keep("emb", gatherRows(C, contexts, blockSize: config.blockSize))  // (n, block, embed)
        let embcat = t.keep("embcat", emb.reshaped([n, config.inputSize]))  // (n, block * embed)

        var x = embcat
        for i in 1...config.hiddenLayers {
            let W = t.keep("W\(i)", p["W\(i)"])
            let b = t.keep("b\(i)", p["b\(i)"])
            let hprebn = t.keep("hprebn\(i)", x.matmul(W) + b)  // (n, hidden)
            // Batch norm, one operation a line.
            let bnmeani = t.keep("bnmeani\(i)", (1 / nT) * hprebn.sumOverRows())  // (1, hidden)
            let bndiff = t.keep("bndiff\(i)", hprebn - bnmeani)
            let bndiff2 = t.keep("bndiff2\(i)", bndiff * bndiff)
            let bnvar = t.keep("bnvar\(i)", (1 / (nT - 1)) * bndiff2.sumOverRows())  // Bessel: 1/(n-1)
            let bnvar_inv = t.keep("bnvar_inv\(i)", (bnvar + eps).pow(-0.5))
            let bnraw = t.keep("bnraw\(i)", bndiff * bnvar_inv)
            let bngain = t.keep("bngain\(i)", p["bngain\(i)"])
            let bnbias = t.keep("bnbias\(i)", p["bnbias\(i)"])
            let hpreact = t.keep("hpreact\(i)", bngain * bnraw + bnbias)
            let h = t.keep("h\(i)", hpreact.tanh())
            x = h
        }
        let L = config.hiddenLayers + 1
        let W = t.keep("W\(L)", p["W\(L)"])
        let b = t.keep("b\(L)", p["b\(L)"])
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

    /// The fused backward of the layers, fed from this pass's tensors: `logits` from
    /// `CrossEntropy.backward`, and `hprebn{i}` from `BatchNorm1d.backward` given the
    /// step-by-step `dhpreact{i}` of `gradients`.
    public func fusedGradients(from gradients: [String: Tensor<T>]) -> [String: Tensor<T>] {
        var result: [String: Tensor<T>] = [:]
        let n = batchSize, h = config.hiddenSize
        let dlogits = Tensor<T>(shape: [n, config.vocabularySize])
        targets.withUnsafeBufferPointer { CrossEntropy.backward(probs: values["probs"]!, targets: $0.baseAddress!, dLogits: dlogits) }
        result["logits"] = dlogits
        for i in 1...config.hiddenLayers {
            let batchNorm = BatchNorm1d(
                gain: values["bngain\(i)"]!, bias: values["bnbias\(i)"]!,
                runningMean: Tensor(shape: [1, h]), runningVariance: Tensor(shape: [1, h]),
                dGain: Tensor(shape: [1, h]), dBias: Tensor(shape: [1, h]),
                epsilon: T(config.epsilon), momentum: T(config.momentum))
            let dhprebn = Tensor<T>(shape: [n, h])
            batchNorm.backward(
                dOut: gradients["hpreact\(i)"]!, xhat: values["bnraw\(i)"]!,
                inverseStd: values["bnvar_inv\(i)"]!, dX: dhprebn, scratch: Tensor(shape: [3, h]))
            result["hprebn\(i)"] = dhprebn
        }
        return result
    }

    /// The names of the gradients in the order of the lecture's table: from the loss back to `C`.
    public static func gradientOrder(_ config: ModelConfig) -> [String] {
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

    /// The names that have both a step-by-step and a fused gradient.
    public static func fusedOrder(_ config: ModelConfig) -> [String] {
        ["logits"] + (1...config.hiddenLayers).reversed().map { "hprebn\($0)" }
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
