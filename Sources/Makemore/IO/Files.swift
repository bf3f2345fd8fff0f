import Foundation

// File helpers shared by the readers and writers of the library: reading a whole file with a
// reason a caller can turn into a message that says what to fix, and writing one atomically so
// that a crash or a concurrent reader never sees half a checkpoint or half a log.

/// Why a file could not be read, so that each caller can word its own message
/// ("no such file" says what to fix better than Foundation's description does).
enum FileReadProblem: Error {
    /// Nothing exists at the path.
    case missing
    /// The path names a directory, not a file.
    case directory
    /// Anything else (permissions, I/O errors), with Foundation's description of it.
    case other(String)
}

/// The contents of the file at `url`, or why they cannot be read, for a message that says what to fix.
func readFile(_ url: URL) -> Result<Data, FileReadProblem> {
    do {
        return .success(try Data(contentsOf: url))
    } catch {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return .failure(.missing) }
        return .failure(isDirectory.boolValue ? .directory : .other(error.localizedDescription))
    }
}

/// Writes `bytes` to `url` atomically: a temporary file in the same directory, then rename over the target,
/// so that a reader (or a crash at any moment) sees either the old file whole or the new one whole.
/// Errors (directory missing or not writable) are MakemoreError with a one-line message naming the path.
///
/// The temporary file is flushed to disk (`fsync`) before the rename, and the directory after it,
/// so the new contents survive a power loss once this returns. On failure the temporary file is removed.
func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
    guard url.isFileURL else {
        throw MakemoreError("cannot write '\(url.absoluteString)': not a file URL")
    }
    let path = url.path
    let directory = url.deletingLastPathComponent().path
    let temporaryPath = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp").path

    func failure(_ action: String, _ code: Int32) -> MakemoreError {
        var isDirectory: ObjCBool = false
        if code == ENOENT, !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            return MakemoreError("cannot write '\(path)': directory '\(directory)' does not exist")
        }
        return MakemoreError("cannot write '\(path)': \(action) failed: \(String(cString: strerror(code)))")
    }

    let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o666)
    guard descriptor >= 0 else { throw failure("creating a temporary file in '\(directory)'", errno) }
    var closed = false
    var renamed = false
    defer {
        if !closed { close(descriptor) }
        if !renamed { unlink(temporaryPath) }
    }

    var written = 0
    while written < bytes.count {
        let result = bytes.withUnsafeBytes { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return write(descriptor, base + written, buffer.count - written)
        }
        if result < 0 {
            if errno == EINTR { continue }
            throw failure("writing", errno)
        }
        written += result
    }
    guard fsync(descriptor) == 0 else { throw failure("flushing to disk", errno) }
    closed = true
    guard close(descriptor) == 0 else { throw failure("closing the temporary file", errno) }
    guard rename(temporaryPath, path) == 0 else { throw failure("renaming the temporary file over it", errno) }
    renamed = true

    // Make the rename itself durable; a failure here leaves the new file in place, so ignore it.
    let directoryDescriptor = open(directory, O_RDONLY)
    if directoryDescriptor >= 0 {
        _ = fsync(directoryDescriptor)
        close(directoryDescriptor)
    }
}

/// Appends `bytes` to the file at `url` (created if missing) and flushes it to disk: for a file
/// made to be appended to, TensorBoard's event file, whose reader stops at a torn last record
/// and reads it whole once the rest arrives. Errors are MakemoreError naming the path.
func appendDurably(_ bytes: ArraySlice<UInt8>, to url: URL) throws {
    let path = url.path
    let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o666)
    guard descriptor >= 0 else { throw MakemoreError("cannot write '\(path)': \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    var written = 0
    while written < bytes.count {
        let result = bytes.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress! + written, buffer.count - written) }
        if result < 0 {
            if errno == EINTR { continue }
            throw MakemoreError("cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        written += result
    }
    guard fsync(descriptor) == 0 else { throw MakemoreError("cannot write '\(path)': flushing to disk failed: \(String(cString: strerror(errno)))") }
}
