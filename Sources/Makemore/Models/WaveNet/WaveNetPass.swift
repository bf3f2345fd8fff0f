/// One batch through the WaveNet for the gradient check and the PyTorch export.
///
/// The forward is written again here with whole-tensor operations (`Tensor.matmul`, broadcasting
/// arithmetic), independently of the layers, keeping each level's output by name: `emb`, and per
/// level `hprebn{i}`, `hpreact{i}`, `h{i}` as `(B, T/2^i, hidden)` (`(B, hidden)` at the last),
/// then `logits`. The backward is the model's own, `WaveNet.forward` and `backward` run on the
/// same parameters and batch: the gradient check compares every gradient it writes, parameters
/// and intermediates, with finite differences of this forward.
public struct WaveNetPass<T: Scalar>: GradientPass {
    /// The model's sizes.
    public let config: WaveNetConfig
    /// The batch the pass ran on.
    public let batch: Batch
    /// The model's tensors the pass read (not modified by it).
    public let parameters: ParameterTable<T>
    /// Every parameter used and every level's output, by name.
    public let values: [String: Tensor<T>]
    /// The mean cross-entropy of the batch, in nats.
    public let loss: T

    /// Runs the whole-tensor forward of the model with `parameters` on `batch` (at least two
    /// examples, for batch-norm's variance), keeping every intermediate.
    public init(parameters: ParameterTable<T>, config: WaveNetConfig, batch: Batch) throws {
        guard batch.count >= 2 else {
            throw MakemoreError("batch-norm needs a batch of at least 2 examples to compute a variance; got \(batch.count)")
        }
        precondition(batch.contexts.count == batch.count * config.blockSize)
        var trace = Trace<T>(baseline: nil, override: nil)
        loss = WaveNetPass.forward(&trace, parameters: parameters, config: config, batch: batch)
        self.config = config
        self.batch = batch
        self.parameters = parameters
        values = trace.values
    }

    public func loss(replacing name: String, with value: Tensor<T>) -> T {
        var trace = Trace<T>(baseline: values, override: (name, value))
        return WaveNetPass.forward(&trace, parameters: parameters, config: config, batch: batch)
    }

    private static func forward(_ t: inout Trace<T>, parameters table: ParameterTable<T>, config: WaveNetConfig, batch: Batch) -> T {
        let n = batch.count, e = config.embeddingSize, h = config.hiddenSize
        let p = WaveNetParameters(config, table, table.values)
        let C = t.keep("C", p.C)
        let emb = t.keep("emb", Tensor<T>(shape: [n, config.blockSize, e], values: batch.contexts.flatMap { C.rows(Int($0)..<Int($0) + 1).array }))
        var x = emb.reshaped([n * config.blockSize / 2, 2 * e])  // FlattenConsecutive(2)
        for i in 1...config.levels {
            let level = p.levels[i - 1], rows = config.rows(ofLevel: i, batch: n), m = T(rows)
            let shape = rows == n ? [n, h] : [n, rows / n, h]
            let W = t.keep("W\(i)", level.W)
            let hprebn = t.keep("hprebn\(i)", x.matmul(W).reshaped(shape)).reshaped([rows, h])
            let mean = (1 / m) * hprebn.sumOverRows()  // over batch and time
            let diff = hprebn - mean
            let variance = (1 / (m - 1)) * (diff * diff).sumOverRows()  // Bessel, as torch.var
            let gain = t.keep("bngain\(i)", level.gain), bias = t.keep("bnbias\(i)", level.bias)
            let hpreact = t.keep("hpreact\(i)", (gain * diff * (variance + T(config.epsilon)).pow(-0.5) + bias).reshaped(shape))
            let out = t.keep("h\(i)", hpreact.tanh()).reshaped([rows, h])
            x = i < config.levels ? out.reshaped([rows / 2, 2 * h]) : out
        }
        let W = t.keep("W\(config.levels + 1)", p.W), b = t.keep("b\(config.levels + 1)", p.b)
        let logits = t.keep("logits", x.matmul(W) + b)
        // loss = mean over rows of logsumexp(logits) - logits[target]
        var total: T = 0
        for i in 0..<n {
            let row = logits.rows(i..<i + 1).array, maximum = row.max()!
            total += T.log(row.reduce(0) { $0 + T.exp($1 - maximum) }) + maximum - row[Int(batch.targets[i])]
        }
        return total / T(n)
    }

    /// From the loss back: `logits`, the output Linear, then per level (last first) `h`,
    /// `hpreact`, the batch-norm gain and bias, `hprebn`, `W`; then `emb` and `C`.
    public var gradientOrder: [String] {
        let L = config.levels
        var names = ["logits", "W\(L + 1)", "b\(L + 1)"]
        for i in stride(from: L, through: 1, by: -1) {
            names += ["h\(i)", "hpreact\(i)", "bngain\(i)", "bnbias\(i)", "hprebn\(i)", "W\(i)"]
        }
        return names + ["emb", "C"]
    }

    /// The model's backward on this batch: every trainable parameter's gradient, and each
    /// intermediate's from the activations the model kept.
    public func backward() -> [String: Tensor<T>] {
        let model = WaveNet<T>(config: config, parameters: parameters.copy())
        let a = batch.withPointers { contexts, targets in
            _ = model.forward(contexts: contexts, targets: targets, count: batch.count)
            model.backward(contexts: contexts, targets: targets)
            return model.activations!
        }
        var d: [String: Tensor<T>] = ["logits": a.dLogits, "emb": a.dEmb.reshaped(values["emb"]!.shape)]
        for (i, level) in a.levels.enumerated() {
            let shape = values["h\(i + 1)"]!.shape
            d["h\(i + 1)"] = level.dH.reshaped(shape)
            d["hpreact\(i + 1)"] = level.dHpreact.reshaped(shape)
            d["hprebn\(i + 1)"] = level.dHprebn.reshaped(shape)
        }
        for entry in model.parameters.entries where entry.spec.isTrainable {
            d[entry.name] = model.parameters.gradient(entry.name)
        }
        return d
    }

    /// The backward above is the model's own: there is no separate step-by-step chain to compare.
    public func modelGradients() -> [(name: String, gradient: Tensor<T>)] { [] }
}
