import Foundation
import Makemore

let splits = try Splits(words: try WordList(contentsOf: URL(fileURLWithPath: "words.txt")), blockSize: 3)
var options = MLP<Float>.defaultOptions
options.steps = 3_000
let trainer = try Trainer(model: MLP<Float>.self, sizes: ModelSizes(embed: 8, hidden: 64), options: options, splits: splits, dataPath: nil)
try trainer.train()
trainer.finish()
try trainer.checkpoint(finished: true).write(to: URL(fileURLWithPath: "model.safetensors"))
let checkpoint = try Checkpoint(contentsOf: URL(fileURLWithPath: "model.safetensors"))
var generator = SeededGenerator(seed: 7)
print(try Sampler(model: checkpoint.model, vocabulary: checkpoint.vocabulary).sample(using: &generator))
print(SplitLosses(model: checkpoint.model, splits: splits).test)
