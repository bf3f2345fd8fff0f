/// Draws new words from a trained model, one character at a time, in evaluation mode: the
/// lecture's sampling loop, with temperature, top-k and a prefix.
public struct Sampler {
    /// The model that gives the logits of each next character.
    public let model: any LanguageModel
    /// The model's vocabulary: character indices to characters.
    public let vocabulary: Vocabulary
    /// Divides the logits: below 1 sharpens the distribution, above 1 flattens it.
    public var temperature: Double = 1
    /// When set, only the `topK` most likely characters can be drawn.
    public var topK: Int?
    /// A word longer than this is cut (a model that never draws `.` would not stop).
    public var maxLength = 100

    /// A sampler of `model`, whose vocabulary must have `model.config.vocabularySize`
    /// characters; throws unless `temperature` is positive and `topK`, if given, at least 1.
    public init(model: any LanguageModel, vocabulary: Vocabulary, temperature: Double = 1, topK: Int? = nil) throws {
        guard model.config.vocabularySize == vocabulary.count else {
            throw MakemoreError("the vocabulary has \(vocabulary.count) characters but the model \(model.config.vocabularySize)")
        }
        try Sampler.validate(temperature: temperature, topK: topK)
        self.model = model
        self.vocabulary = vocabulary
        self.temperature = temperature
        self.topK = topK
    }

    /// Throws unless `temperature` is positive and `topK`, if given, at least 1.
    package static func validate(temperature: Double, topK: Int?) throws {
        guard temperature > 0, temperature.isFinite else { throw MakemoreError("--temperature must be positive, got \(temperature)") }
        if let topK, topK < 1 { throw MakemoreError("--top-k must be at least 1, got \(topK)") }
    }

    /// One word that starts with `prefix`; `prefix` characters must be in the vocabulary.
    public func sample(prefix: String = "", using generator: inout SeededGenerator) throws -> String {
        if prefix.unicodeScalars.contains(Vocabulary.terminator) {
            throw MakemoreError("the prefix '\(prefix)' contains '.', the start/end token; give the first letters of a word")
        }
        var word = try vocabulary.encode(prefix)
        word.reserveCapacity(maxLength)
        var probabilities = [Double](repeating: 0, count: vocabulary.count)
        while word.count < maxLength {
            let logits = model.logits(after: word)
            // softmax(logits / temperature), keeping only the top k.
            var maximum = -Double.infinity
            for j in 0..<vocabulary.count {
                probabilities[j] = Double(logits[j]) / temperature
                maximum = Swift.max(maximum, probabilities[j])
            }
            for j in 0..<vocabulary.count { probabilities[j] = Double.exp(probabilities[j] - maximum) }
            if let topK, topK < vocabulary.count {
                let threshold = probabilities.sorted(by: >)[topK - 1]
                var kept = 0
                for j in 0..<vocabulary.count {
                    if probabilities[j] >= threshold && kept < topK { kept += 1 } else { probabilities[j] = 0 }
                }
            }
            let total = probabilities.reduce(0, +)
            var u = generator.nextUniform() * total
            var next = vocabulary.count - 1
            for j in 0..<vocabulary.count {
                u -= probabilities[j]
                if u < 0 && probabilities[j] > 0 { next = j; break }
            }
            if next == 0 { break }
            word.append(Int32(next))
        }
        return vocabulary.decode(word)
    }
}
