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

    /// Parses `text`: one word per line, trimmed, empty lines skipped. A UTF-8 byte-order mark at
    /// the start is dropped; a control character (NUL, escape, ...) in a word is an error.
    public init(text: String, source: String = "words") throws {
        var words: [String] = []
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        // "\r\n" is one Character in Swift, and a line break like "\n".
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let word = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if word.isEmpty { continue }
            if let control = word.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
                let code = "U+" + String(control.value, radix: 16, uppercase: true).leftPadded(to: 4)
                throw MakemoreError("\(source):\(number + 1): a control character (\(code)) in a word; remove it")
            }
            if word.unicodeScalars.contains(Vocabulary.terminator) {
                throw MakemoreError(
                    "\(source):\(number + 1): '\(word)' contains '.', which is reserved as the start/end token; remove it")
            }
            words.append(word)
        }
        try self.init(words: words, source: source)
    }

    /// The 1-based number of the first line holding bytes that are not UTF-8.
    static func firstInvalidUTF8Line(in bytes: [UInt8]) -> Int {
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

extension String {
    /// The string with zeros before it up to `length` characters.
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: Swift.max(0, length - count)) + self
    }
}
