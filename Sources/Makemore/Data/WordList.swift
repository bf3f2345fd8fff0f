import Foundation

/// A list of words, one per line of a UTF-8 text file.
///
/// Surrounding whitespace (including a Windows `\r`) is trimmed and empty lines are skipped.
/// A word may not contain `.`, the start/end token.
public struct WordList: Sendable, Equatable {
    /// The words, in the order of the file.
    public var words: [String]
    /// Where the words came from, for messages.
    public var source: String

    /// The list of `words`; throws if it is empty or a word contains `.`. `source` names the list
    /// in messages.
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
        var text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        let words = try text.withUTF8({ try WordList.asciiWords($0, source: source) })
            ?? WordList.generalWords(text, source: source)
        try self.init(words: words, source: source)
    }

    /// The words of any text: lines split at every Unicode line break, trimmed of Unicode spaces.
    static func generalWords(_ text: String, source: String) throws -> [String] {
        var words: [String] = []
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
        return words
    }

    /// The words of an all-ASCII text, read byte by byte: what the general path above gives for
    /// such a text (the same line breaks, `\r\n` counting as one, the same trimming and errors),
    /// some twenty times faster on a list of millions of words. Nil if the text is not ASCII.
    static func asciiWords(_ bytes: UnsafeBufferPointer<UInt8>, source: String) throws -> [String]? {
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        func isBreak(_ b: UInt8) -> Bool { b == 0x0A || b == 0x0B || b == 0x0C || b == 0x0D }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || isBreak(b) }
        var words: [String] = []
        var line = 1, start = 0, i = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count && !isBreak(bytes[end]) { end += 1 }
            var first = start, last = end
            while first < last && isSpace(bytes[first]) { first += 1 }
            while last > first && isSpace(bytes[last - 1]) { last -= 1 }
            if first < last {
                let word = UnsafeBufferPointer(rebasing: bytes[first..<last])
                if let control = word.first(where: { $0 < 0x20 || $0 == 0x7F }) {
                    let code = "U+" + String(control, radix: 16, uppercase: true).leftPadded(to: 4)
                    throw MakemoreError("\(source):\(line): a control character (\(code)) in a word; remove it")
                }
                let text = String(decoding: word, as: UTF8.self)
                if word.contains(UInt8(ascii: ".")) {
                    throw MakemoreError(
                        "\(source):\(line): '\(text)' contains '.', which is reserved as the start/end token; remove it")
                }
                words.append(text)
            }
            // "\r\n" is one line break, as it is one Character.
            i = end + (end + 1 < bytes.count && bytes[end] == 0x0D && bytes[end + 1] == 0x0A ? 2 : 1)
            start = i
            line += 1
        }
        return words
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
