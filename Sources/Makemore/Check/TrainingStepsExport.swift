/// Training steps with an optimizer, as one safetensors file for `reference/adamw_parity.py`,
/// which replays them with `torch.optim.AdamW` (or SGD) and PyTorch autograd:
///
///     <name>                          every tensor of the model before the first step
///     Xb (steps, batch, block), Yb (steps, batch)     the batches, int64 (the Transformer's
///                                     padded as makemore pads them: Yb (steps, batch, block), -1 past a word)
///     losses (steps)                  the loss of each step
///     grad.<k>.<name>                 the gradient of trainable tensor <name> at step k (1-based)
///     final.<name>                    every tensor after the last step
///     final.optimizer.exp_avg.<name>, final.optimizer.exp_avg_sq.<name>   AdamW's moments then
///
/// and in the metadata the model's name, configuration and vocabulary, `optimizer` (with
/// AdamW's `adamw_beta1`, `adamw_beta2`, `adamw_eps`, `weight_decay`), `lr`, `steps`, `batch`
/// and `seed`: the keys of a checkpoint. Any model plugs in: the steps are the trainer's own
/// (`LanguageModel.trainingStep(_:optimizer:state:learningRate:)`); the reference needs the
/// model's forward by its name.
package enum TrainingStepsExport {
    package static func make<Model: LanguageModel>(
        _ type: Model.Type, config: Model.Configuration, parameters: ParameterTable<Float>, batches: [Model.TrainingBatch],
        optimizer: Optimizer, learningRate: Double, vocabulary: Vocabulary, seed: UInt64
    ) throws -> SafeTensors {
        precondition(!batches.isEmpty && batches.allSatisfy { $0.count == batches[0].count }, "batches of one size")
        var metadata = [
            "optimizer": optimizer.name, "lr": "\(learningRate)", "steps": "\(batches.count)",
            "batch": "\(batches[0].count)", "seed": "\(seed)",
        ]
        if case .adamW(let adamW) = optimizer {
            metadata["adamw_beta1"] = "\(adamW.beta1)"
            metadata["adamw_beta2"] = "\(adamW.beta2)"
            metadata["adamw_eps"] = "\(adamW.epsilon)"
            metadata["weight_decay"] = "\(adamW.weightDecay)"
        }
        var file = try SafeTensors(
            format: "makemore-steps", modelName: Model.name, config: config, vocabulary: vocabulary,
            parameters: parameters, metadata: metadata)
        // Each batch's tensors (`Xb`, `Yb`, as `exportedTensors` gives them), stacked along a first axis of steps.
        let steps = batches.count
        for (index, first) in batches[0].exportedTensors.enumerated() {
            let values = batches.flatMap { $0.exportedTensors[index].values }
            try file.add(first.name, int64s: values, shape: [steps] + first.shape)
        }

        let model = Model(config: config, parameters: parameters.copy())
        let table = model.parameters
        let state = OptimizerState(for: optimizer, table: table)
        var losses: [Float] = []
        for (k, batch) in batches.enumerated() {
            losses.append(model.trainingStep(batch, optimizer: optimizer, state: state, learningRate: learningRate))
            for entry in table.entries where entry.spec.isTrainable {
                try file.add("grad.\(k + 1).\(entry.name)", floats: table.gradient(entry.name).array, shape: entry.shape)
            }
        }
        try file.add("losses", floats: losses, shape: [steps])
        for entry in table.entries {
            try file.add("final.\(entry.name)", floats: table[entry.name].array, shape: entry.shape)
        }
        if state.firstMoment.count > 0 {
            for entry in table.entries where entry.spec.isTrainable {
                try file.add("final." + Checkpoint.firstMomentPrefix + entry.name, floats: state.moment(state.firstMoment, of: entry).array, shape: entry.shape)
                try file.add("final." + Checkpoint.secondMomentPrefix + entry.name, floats: state.moment(state.secondMoment, of: entry).array, shape: entry.shape)
            }
        }
        return file
    }
}
