/// Everything the PyTorch parity check needs from one gradient check, as one safetensors file:
/// the parameters and running statistics, the batch, every hand-written gradient of the
/// step-by-step backward (`grad.<name>`), the fused ones (`grad_fused.<name>`) and the loss,
/// with the configuration and vocabulary in the metadata. The same step computed in Double from
/// the same parameters (`grad64.<name>`, `grad64_fused.<name>`, `loss64`) lets the check tell
/// float32 rounding from a wrong gradient.
///
/// The names are the same on both sides, so `reference/torch_parity.py` can rebuild the forward
/// in PyTorch, run autograd, and compare tensor by tensor.
public enum GradientExport {
    public static func make(
        _ pass: StepByStep<Float>, double pass64: StepByStep<Double>, vocabulary: Vocabulary, seed: UInt64
    ) throws -> SafeTensors {
        let config = pass.config
        var file = try SafeTensors(
            format: "makemore-gradcheck", config: config, vocabulary: vocabulary, parameters: pass.parameters,
            metadata: ["batch": "\(pass.batchSize)", "seed": "\(seed)"])
        try file.add("Xb", int64s: pass.contexts.map(Int64.init), shape: [pass.batchSize, config.blockSize])
        try file.add("Yb", int64s: pass.targets.map(Int64.init), shape: [pass.batchSize])
        let gradients = pass.backward()
        for name in StepByStep<Float>.gradientOrder(config) {
            let gradient = gradients[name]!
            try file.add("grad.\(name)", floats: gradient.array, shape: gradient.shape)
        }
        let fused = pass.fusedGradients(from: gradients)
        for name in StepByStep<Float>.fusedOrder(config) {
            try file.add("grad_fused.\(name)", floats: fused[name]!.array, shape: fused[name]!.shape)
        }
        try file.add("loss", floats: [pass.loss], shape: [1])

        let gradients64 = pass64.backward()
        for name in StepByStep<Double>.gradientOrder(config) {
            try file.add("grad64.\(name)", doubles: gradients64[name]!.array, shape: gradients64[name]!.shape)
        }
        let fused64 = pass64.fusedGradients(from: gradients64)
        for name in StepByStep<Double>.fusedOrder(config) {
            try file.add("grad64_fused.\(name)", doubles: fused64[name]!.array, shape: fused64[name]!.shape)
        }
        try file.add("loss64", doubles: [pass64.loss], shape: [1])
        return file
    }
}
