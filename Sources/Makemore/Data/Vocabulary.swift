/// The characters of a word list, numbered: `.` (the start/end token) is 0, and the other
/// Unicode scalars follow from 1 in code-point order.
///
/// This is Python's `sorted(set(''.join(words)))` with `stoi['.'] = 0`, so a list with accented
/// or other non-ASCII names gets the same numbering as the Python reference.
public struct Vocabulary: Sendable, Equatable {
    public static let terminator: Unicode.Scalar = "."

    /// The characters in index order; `characters[0]` is `.`.
    public let characters: [Unicode.Scalar]
    private let indices: [Unicode.Scalar: Int32]

    public init(words: [String]) {
        let scalars = Set(words.flatMap { $0.unicodeScalars }).subtracting([Vocabulary.terminator])
        self.init(characters: [Vocabulary.terminator] + scalars.sorted { $0.value < $1.value })
    }

    /// A vocabulary from its characters in index order, as stored in a checkpoint.
    public init(characters: [Unicode.Scalar]) {
        self.characters = characters
        var indices: [Unicode.Scalar: Int32] = [:]
        for (index, character) in characters.enumerated() { indices[character] = Int32(index) }
        self.indices = indices
    }

    /// Parses the string form written by `description`; `.` must come first.
    public init(string: String) throws {
        let characters = Array(string.unicodeScalars)
        guard characters.first == Vocabulary.terminator, Set(characters).count == characters.count else {
            throw MakemoreError("vocabulary '\(string)' must start with '.' and list each character once")
        }
        self.init(characters: characters)
    }

    public var count: Int { characters.count }

    /// The characters in index order as one string, starting with `.`.
    public var string: String { String(String.UnicodeScalarView(characters)) }

    /// The indices of the characters of `word`, or an error naming the first unknown character.
    public func encode(_ word: String) throws -> [Int32] {
        try word.unicodeScalars.map { character in
            guard let index = indices[character] else {
                throw MakemoreError(
                    "character '\(character)' (U+\(String(character.value, radix: 16, uppercase: true))) in '\(word)' is not in the vocabulary")
            }
            return index
        }
    }

    public func decode(_ indices: [Int32]) -> String {
        String(String.UnicodeScalarView(indices.map { characters[Int($0)] }))
    }
}
