// Fuzz targets for the readers of untrusted input: the safetensors reader with checkpoint
// validation, and the word-list reader. Any input must give a value or a MakemoreError: never a
// trap, a hang, or an allocation that the input's size does not explain.
//
// Built with libFuzzer (`-sanitize=fuzzer,address -DFUZZING`, see scripts/fuzz), libFuzzer
// drives `LLVMFuzzerTestOneInput`; built plainly, `makemore-fuzz TARGET FILE...` runs the same
// check on files: the corpus, and every input that once crashed (fuzz/crashes), as CI does.
import Foundation
import Makemore

/// The two targets; `MAKEMORE_FUZZ_TARGET` chooses one for libFuzzer.
enum Target: String {
    case checkpoint, words

    /// Reads `bytes` as this target's input; errors are the expected outcome of bad input.
    func check(_ bytes: [UInt8]) {
        switch self {
        case .checkpoint:
            guard let file = try? SafeTensors(bytes: bytes) else { return }
            _ = try? Checkpoint(file)
        case .words:
            guard let text = String(validating: bytes, as: UTF8.self),
                let words = try? WordList(text: text)
            else { return }
            _ = try? Splits(words: words, blockSize: 3)
        }
    }
}

let fuzzTarget = Target(rawValue: ProcessInfo.processInfo.environment["MAKEMORE_FUZZ_TARGET"] ?? "") ?? .checkpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzTarget.check(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

#if FUZZING
/// libFuzzer's entry point for a program that has its own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

@main
enum Main {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
        #else
        replay()
        #endif
    }

    /// `makemore-fuzz TARGET FILE...`: the check on each file.
    static func replay() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = Target(rawValue: name) else {
            FileHandle.standardError.write(Data("usage: makemore-fuzz checkpoint|words FILE...\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            target.check([UInt8](data))
            count += 1
        }
        print("makemore-fuzz \(name): \(count) inputs read without a crash")
    }
}
