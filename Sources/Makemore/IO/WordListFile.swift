import Foundation

extension WordList {
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

    static var bundledNamesURL: URL {
        Bundle.module.url(forResource: "names", withExtension: "txt")
            ?? URL(fileURLWithPath: "Sources/Makemore/Resources/names.txt")
    }
}
