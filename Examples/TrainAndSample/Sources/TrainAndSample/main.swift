import Foundation
import Makemore

// Usage: TrainAndSample [WORDS] [OUT]  (defaults: words.txt, a temporary checkpoint file)
let arguments = CommandLine.arguments.dropFirst()
let wordsURL = URL(fileURLWithPath: arguments.first ?? "words.txt")
let checkpointURL = URL(fileURLWithPath: arguments.dropFirst().first
    ?? NSTemporaryDirectory() + "train-and-sample-\(ProcessInfo.processInfo.processIdentifier).safetensors")

do {
    // Words, split 80/10/10 as makemore splits them, with 3 characters of context.
    let words = try WordList(contentsOf: wordsURL)
    let splits = try Splits(words: words, blockSize: 3)

    // A small MLP, trained with the hand-written backward: 3,000 steps of batch 32.
    var options = MLP<Float>.defaultOptions
    options.steps = 3_000
    options.learningRateDecayStep = 2_000
    options.evaluationInterval = 1_000
    let trainer = try Trainer(
        model: MLP<Float>.self, sizes: ModelSizes(embed: 8, hidden: 64), options: options, splits: splits, dataPath: nil)
    try trainer.train(observe: { event in
        if case .evaluation(let step, let devLoss) = event { print("step \(step): dev loss \(devLoss)") }
    })
    trainer.finish()  // batch-norm calibrated on the training split

    // Save, then load it back as another program would.
    try trainer.checkpoint(finished: true).write(to: checkpointURL)
    let checkpoint = try Checkpoint(contentsOf: checkpointURL)
    print("saved and loaded \(checkpoint.model.name), \(checkpoint.model.config.parameterCount) parameters")

    // Sample five words and evaluate the loaded model on each split.
    let sampler = try Sampler(model: checkpoint.model, vocabulary: checkpoint.vocabulary, temperature: 0.8)
    var generator = SeededGenerator(seed: 7)
    for _ in 0..<5 { print("sample: " + (try sampler.sample(using: &generator))) }
    let losses = SplitLosses(model: checkpoint.model, splits: splits)
    print(String(format: "loss per character: train %.4f, dev %.4f, test %.4f", losses.train, losses.dev, losses.test))
} catch let error as MakemoreError {
    print("error: \(error.message)")
    exit(1)
}
