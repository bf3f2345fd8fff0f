import Foundation

/// The files of a training run: `model.safetensors`, `log.csv`, `loss.svg`, `samples.txt`.
/// Every file is written atomically.
public struct RunDirectory {
    public static let modelFile = "model.safetensors"
    public static let logFile = "log.csv"
    public static let plotFile = "loss.svg"
    public static let samplesFile = "samples.txt"

    public let url: URL
    /// The log as last written, so that each save formats only the rows added since.
    private let logBytes = LogBytes()

    private final class LogBytes {
        var bytes: [UInt8] = []
        var rows = 0
        var firstStep = 0
    }

    /// The run directory at `path`, created if needed.
    public init(path: String) throws {
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

    /// The model file of the run directory at `path`, which need not exist yet.
    public static func model(in path: String) -> URL {
        URL(fileURLWithPath: path).appendingPathComponent(modelFile)
    }

    public var model: URL { url.appendingPathComponent(RunDirectory.modelFile) }
    public var log: URL { url.appendingPathComponent(RunDirectory.logFile) }
    public var plot: URL { url.appendingPathComponent(RunDirectory.plotFile) }
    public var samples: URL { url.appendingPathComponent(RunDirectory.samplesFile) }

    /// Saves the log first, then the model: a kill between the two leaves a log that runs ahead
    /// of the model, which `readLog` trims on resume.
    public func save(_ checkpoint: Checkpoint, log: TrainingLog) throws {
        if log.firstStep != logBytes.firstStep || log.losses.count < logBytes.rows {
            (logBytes.bytes, logBytes.rows, logBytes.firstStep) = ([], 0, log.firstStep)
        }
        log.appendCSV(to: &logBytes.bytes, rowsAlreadyWritten: logBytes.rows)
        logBytes.rows = log.losses.count
        try writeAtomically(logBytes.bytes, to: self.log)
        try checkpoint.write(to: model)
    }

    /// The log of the run, empty if there is none.
    public func readLog() throws -> TrainingLog {
        guard let data = FileManager.default.contents(atPath: log.path) else { return TrainingLog() }
        return try TrainingLog(csv: String(decoding: data, as: UTF8.self), source: log.path)
    }

    /// Draws the log's training and dev losses into `loss.svg`.
    public func writePlot(of log: TrainingLog, title: String) throws {
        try writeText(LossPlot(title: title).svg(training: log.losses, firstStep: log.firstStep, dev: log.devLosses), to: plot)
    }

    public func writeText(_ text: String, to url: URL) throws {
        try writeAtomically(Array(text.utf8), to: url)
    }
}
