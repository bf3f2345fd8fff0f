/// The characters of a word list, numbered: `.` (the start/end token) is 0, and the other
/// Unicode scalars follow from 1 in code-point order.
///
/// This is Python's `sorted(set(''.join(words)))` with `stoi['.'] = 0`, so a list with accented
/// or other non-ASCII names gets the same numbering as the Python reference.
public struct Vocabulary: Sendable, Equatable {
    /// `.`, index 0: the token before a word's first character and after its last.
    public static let terminator: Unicode.Scalar = "."

    /// The characters in index order; `characters[0]` is `.`.
    public let characters: [Unicode.Scalar]
    private let indices: [Unicode.Scalar: Int32]
    /// `indices` of the ASCII characters, -1 where absent: the fast path of `append`.
    private let asciiIndices: [Int32]

    /// The vocabulary of every character that occurs in `words`, plus `.`.
    public init(words: [String]) {
        var ascii = [Bool](repeating: false, count: 128)
        var others = Set<Unicode.Scalar>()
        for word in words {
            for byte in word.utf8 where byte < 128 { ascii[Int(byte)] = true }
            if !word.utf8.allSatisfy({ $0 < 128 }) { others.formUnion(word.unicodeScalars.filter { !$0.isASCII }) }
        }
        let scalars = (0..<128).filter { ascii[$0] }.map { Unicode.Scalar(UInt8($0)) } + others
        self.init(characters: [Vocabulary.terminator] + scalars.filter { $0 != Vocabulary.terminator }.sorted { $0.value < $1.value })
    }

    /// A vocabulary from its characters in index order, as stored in a checkpoint.
    public init(characters: [Unicode.Scalar]) {
        self.characters = characters
        var indices: [Unicode.Scalar: Int32] = [:]
        for (index, character) in characters.enumerated() { indices[character] = Int32(index) }
        self.indices = indices
        asciiIndices = (0..<128).map { indices[Unicode.Scalar(UInt8($0))] ?? -1 }
    }

    /// Parses the string form written by `description`; `.` must come first.
    public init(string: String) throws {
        let characters = Array(string.unicodeScalars)
        guard characters.first == Vocabulary.terminator, Set(characters).count == characters.count else {
            throw MakemoreError("vocabulary '\(string)' must start with '.' and list each character once")
        }
        self.init(characters: characters)
    }

    /// Number of characters, `.` included: the model's `vocabularySize`.
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

    /// Appends the indices of `word`'s characters to `indices` (what `encode` returns, without a
    /// new array per word: a data set encodes millions of words). ASCII goes through a table.
    func append(_ word: String, to indices: inout [Int32]) throws {
        let start = indices.count
        for byte in word.utf8 {
            guard byte < 128, asciiIndices[Int(byte)] >= 0 else {
                indices.removeSubrange(start...)  // not ASCII, or not in the vocabulary: the slow path
                indices += try encode(word)
                return
            }
            indices.append(asciiIndices[Int(byte)])
        }
    }

    /// The word spelled by `indices` (each must be below `count`).
    public func decode(_ indices: [Int32]) -> String {
        String(String.UnicodeScalarView(indices.map { characters[Int($0)] }))
    }
}
