import Foundation

/// The files of a training run: `model.safetensors` (the last checkpoint), `best.safetensors`
/// (the checkpoint of the lowest dev loss), `log.csv`, `loss.svg`, `samples.txt`.
/// Every file is written atomically.
package struct RunDirectory {
    package static let modelFile = "model.safetensors"
    package static let bestFile = "best.safetensors"
    package static let logFile = "log.csv"
    package static let plotFile = "loss.svg"
    package static let samplesFile = "samples.txt"

    package let url: URL
    /// The log as last written, so that each save formats only the rows added since.
    private let logBytes = LogBytes()

    private final class LogBytes {
        var bytes: [UInt8] = []
        var rows = 0
        var firstStep = 0
    }

    /// The run directory at `path`, created if needed.
    package init(path: String) throws {
        url = URL(fileURLWithPath: path, isDirectory: true)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw MakemoreError("--out \(path) is a file; give a directory for the run") }
        } else {
            do {
                try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            } catch {
                throw MakemoreError("cannot create the run directory \(path); choose another --out")
            }
        }
        guard FileManager.default.isWritableFile(atPath: url.path) else {
            throw MakemoreError("the run directory \(path) is not writable; choose another --out")
        }
    }

    /// Takes the run directory for one writer: an advisory lock (`flock`) on `.lock` in it, held
    /// until `RunLock.release` or the end of the process. A second writer gets an error naming the
    /// first's process; a lock left by a killed process is gone with it (the kernel drops it).
    package func lock() throws -> RunLock {
        let path = url.appendingPathComponent(".lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw MakemoreError("cannot create \(path); check the run directory's permissions") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = read(descriptor, &buffer, buffer.count)
            close(descriptor)
            let holder = count > 0 ? String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw MakemoreError(
                "another makemore train (process \(holder)) is writing to \(url.path); wait for it to finish or choose another --out")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
        return RunLock(descriptor: descriptor)
    }

    /// Removes the temporary files that a write killed halfway left in the directory
    /// (`.model.safetensors.<id>.tmp`, ...). Call it holding the lock: no other writer is running.
    package func removeStaleTemporaryFiles() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        let files = [RunDirectory.modelFile, RunDirectory.bestFile, RunDirectory.logFile, RunDirectory.plotFile, RunDirectory.samplesFile]
        for name in names where name.hasSuffix(".tmp") && files.contains(where: { name.hasPrefix(".\($0).") }) {
            try? FileManager.default.removeItem(at: url.appendingPathComponent(name))
        }
    }

    /// The model file of the run directory at `path`, which need not exist yet.
    package static func model(in path: String) -> URL {
        URL(fileURLWithPath: path).appendingPathComponent(modelFile)
    }

    /// The best checkpoint of the run directory at `path`, which need not exist.
    package static func best(in path: String) -> URL {
        URL(fileURLWithPath: path).appendingPathComponent(bestFile)
    }

    package var model: URL { url.appendingPathComponent(RunDirectory.modelFile) }
    package var best: URL { url.appendingPathComponent(RunDirectory.bestFile) }
    package var log: URL { url.appendingPathComponent(RunDirectory.logFile) }
    var plot: URL { url.appendingPathComponent(RunDirectory.plotFile) }
    package var samples: URL { url.appendingPathComponent(RunDirectory.samplesFile) }

    /// Saves the log first, then, when `isBest`, the checkpoint as `best.safetensors`, then the
    /// model: a kill between the writes leaves a log (and a best checkpoint) ahead of the model;
    /// `readLog` trims the log on resume, and the resumed run writes the same best checkpoint again.
    package func save(_ checkpoint: Checkpoint, log: TrainingLog, isBest: Bool = false) throws {
        if log.firstStep != logBytes.firstStep || log.losses.count < logBytes.rows {
            (logBytes.bytes, logBytes.rows, logBytes.firstStep) = ([], 0, log.firstStep)
        }
        log.appendCSV(to: &logBytes.bytes, rowsAlreadyWritten: logBytes.rows)
        logBytes.rows = log.losses.count
        try writeAtomically(logBytes.bytes, to: self.log)
        let bytes = try checkpoint.safeTensors().serialized()
        if isBest { try writeAtomically(bytes, to: best) }
        try writeAtomically(bytes, to: model)
    }

    /// The log of the run, empty if there is none.
    package func readLog() throws -> TrainingLog {
        guard let data = FileManager.default.contents(atPath: log.path) else { return TrainingLog() }
        return try TrainingLog(csv: String(decoding: data, as: UTF8.self), source: log.path)
    }

    /// Draws the log's training and dev losses into `loss.svg`.
    package func writePlot(of log: TrainingLog, title: String) throws {
        try writeText(LossPlot(title: title).svg(training: log.losses, firstStep: log.firstStep, dev: log.devLosses), to: plot)
    }

    package func writeText(_ text: String, to url: URL) throws {
        try writeAtomically(Array(text.utf8), to: url)
    }
}

/// A run directory taken by this process (see `RunDirectory.lock`).
package final class RunLock {
    private var descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    /// Gives the directory back.
    package func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
