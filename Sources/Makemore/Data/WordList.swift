import Foundation

/// A list of words, one per line of a UTF-8 text file.
///
/// Surrounding whitespace (including a Windows `\r`) is trimmed and empty lines are skipped.
/// A word may not contain `.`, the start/end token.
public struct WordList: Sendable, Equatable {
    public var words: [String]
    /// Where the words came from, for messages.
    public var source: String

    public init(words: [String], source: String = "words") throws {
        self.words = words
        self.source = source
        if words.isEmpty {
            throw MakemoreError("\(source): the word list is empty; give a file with one word per line")
        }
        for (index, word) in words.enumerated() where word.unicodeScalars.contains(Vocabulary.terminator) {
            throw MakemoreError(
                "\(source): word \(index + 1) '\(word)' contains '.', which is reserved as the start/end token; remove it")
        }
    }

    /// Parses `text`: one word per line, trimmed, empty lines skipped.
    public init(text: String, source: String = "words") throws {
        var words: [String] = []
        // "\r\n" is one Character in Swift, and a line break like "\n".
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let word = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if word.isEmpty { continue }
            if word.unicodeScalars.contains(Vocabulary.terminator) {
                throw MakemoreError(
                    "\(source):\(number + 1): '\(word)' contains '.', which is reserved as the start/end token; remove it")
            }
            words.append(word)
        }
        try self.init(words: words, source: source)
    }

    /// Reads a UTF-8 file of words.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let data: Data
        switch readFile(url) {
        case .success(let contents): data = contents
        case .failure(.missing):
            throw MakemoreError("\(path) does not exist; give a text file with one word per line (--data FILE)")
        case .failure(.directory): throw MakemoreError("\(path) is a directory; give a text file with one word per line")
        case .failure(.other): throw MakemoreError("\(path) cannot be read; check its permissions")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            let line = WordList.firstInvalidUTF8Line(in: [UInt8](data))
            throw MakemoreError("\(path):\(line): the file is not valid UTF-8; save it as UTF-8 text")
        }
        try self.init(text: text, source: path)
    }

    /// The names bundled with the package: 32,033 names, the lecture's data set.
    public static func bundledNames() throws -> WordList {
        try WordList(contentsOf: bundledNamesURL)
    }

    public static var bundledNamesURL: URL {
        Bundle.module.url(forResource: "names", withExtension: "txt")
            ?? URL(fileURLWithPath: "Sources/Makemore/Resources/names.txt")
    }

    /// The 1-based number of the first line holding bytes that are not UTF-8.
    private static func firstInvalidUTF8Line(in bytes: [UInt8]) -> Int {
        var line = 1
        var start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "\n") {
            if String(validating: bytes[start..<index], as: UTF8.self) == nil { return line }
            line += 1
            start = index + 1
        }
        return line
    }
}
