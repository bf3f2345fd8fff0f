/// Everything the PyTorch parity check needs from one gradient check, as one safetensors file:
/// the parameters and running statistics, the batch, every hand-written gradient of the
/// step-by-step backward (`grad.<name>`), the model's own (`grad_fused.<name>`) and the loss,
/// with the model's name, configuration and vocabulary in the metadata. The same step computed
/// in Double from the same parameters (`grad64.<name>`, `grad64_fused.<name>`, `loss64`) lets
/// the check tell float32 rounding from a wrong gradient.
///
/// The names are the same on both sides, so `reference/torch_parity.py` can rebuild the forward
/// in PyTorch, run autograd, and compare tensor by tensor.
package enum GradientExport {
    package static func make<Model: LanguageModel>(
        _ type: Model.Type, config: Model.Configuration, parameters: ParameterTable<Float>, batch: Model.TrainingBatch,
        vocabulary: Vocabulary, seed: UInt64
    ) throws -> SafeTensors {
        let pass = try Model.gradientPass(config: config, parameters: parameters, batch: batch)
        let pass64 = try Model.gradientPass(config: config, parameters: parameters.converted(to: Double.self), batch: batch)
        var file = try SafeTensors(
            format: "makemore-gradcheck", modelName: Model.name, config: config, vocabulary: vocabulary,
            parameters: parameters, metadata: ["batch": "\(batch.count)", "seed": "\(seed)"])
        for (name, values, shape) in batch.exportedTensors {
            try file.add(name, int64s: values, shape: shape)
        }
        let gradients = pass.backward()
        for name in pass.gradientOrder {
            try file.add("grad.\(name)", floats: gradients[name]!.array, shape: gradients[name]!.shape)
        }
        for (name, gradient) in pass.modelGradients() {
            try file.add("grad_fused.\(name)", floats: gradient.array, shape: gradient.shape)
        }
        try file.add("loss", floats: [pass.loss], shape: [1])

        let gradients64 = pass64.backward()
        for name in pass64.gradientOrder {
            try file.add("grad64.\(name)", doubles: gradients64[name]!.array, shape: gradients64[name]!.shape)
        }
        for (name, gradient) in pass64.modelGradients() {
            try file.add("grad64_fused.\(name)", doubles: gradient.array, shape: gradient.shape)
        }
        try file.add("loss64", doubles: [pass64.loss], shape: [1])
        return file
    }
}
