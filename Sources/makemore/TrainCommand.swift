import ArgumentParser
import Foundation
import Makemore
import Synchronization

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model with the hand-written gradients alone (the lecture's MLP recipe by default).",
        discussion: """
            Writes a run directory: model.safetensors (checkpoint, saved atomically every --eval-every \
            steps), log.csv, loss.svg and samples.txt. Ctrl-C saves and stops; --resume continues \
            from the run directory, bit for bit as if never stopped. --diagnostics adds report.html \
            (open it in a browser) and --tensorboard event files (tensorboard --logdir DIR); neither \
            changes the run's numbers.
            """
    )

    @OptionGroup(title: "Input and output") var data: DataOptions
    @OptionGroup(title: "Input and output") var output: RunOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Optimization") var optimization: OptimizationOptions
    @OptionGroup(title: "Diagnostics") var inspection: DiagnosticsOptions

    func run() throws {
        // The run directory is created only once everything else checked out: bad input leaves nothing behind.
        let modelURL = RunDirectory.model(in: output.out)
        let hasModel = FileManager.default.fileExists(atPath: modelURL.path)
        let trainer: Trainer
        let words: WordList
        if output.resume {
            guard hasModel else {
                throw MakemoreError("nothing to resume: \(modelURL.path) does not exist; leave out --resume to start a run")
            }
            let checkpoint = try readCheckpoint(modelURL)
            if let name = model.model, name != checkpoint.model.name {
                throw ValidationError("--model \(name) disagrees with the checkpoint's \(checkpoint.model.name); leave it out to keep the checkpoint's")
            }
            do {
                try model.sizes(momentum: optimization.momentum, calibrate: optimization.calibrate).checkAgrees(with: checkpoint.model.config.sizes)
            } catch let error as MakemoreError {
                throw ValidationError(error.message)
            }
            if let seed = optimization.seed, seed != checkpoint.options.seed {
                throw ValidationError("--seed \(seed) disagrees with the checkpoint's \(checkpoint.options.seed)")
            }
            if checkpoint.finished && optimization.steps.map({ $0 <= checkpoint.step }) ?? true {
                throw MakemoreError("the run in \(output.out) finished at step \(checkpoint.step); give a larger --steps to train further")
            }
            words = try data.load(fallback: checkpoint.dataPath)
            let splits = try timedSplits { try Splits(words: words, blockSize: checkpoint.model.config.blockSize, vocabulary: checkpoint.vocabulary) }
            trainer = try Trainer(
                resuming: checkpoint, options: try optimization.applyingGivenOptions(to: checkpoint.options), splits: splits,
                log: try RunDirectory(path: output.out).readLog())
        } else {
            // A run that never got past step 0 (a start that failed) holds nothing to lose.
            let startedRun = hasModel && (try? Checkpoint(contentsOf: modelURL))?.step != 0
            if startedRun && !output.overwrite {
                throw MakemoreError(
                    "\(modelURL.path) already holds a run: add --resume to continue it, --overwrite to replace it, or choose another --out")
            }
            words = try data.load()
            let splits = try timedSplits { try Splits(words: words, blockSize: try model.blockSize(defaults: .training, words: words)) }
            trainer = try Trainer(
                model: try model.type, sizes: model.sizes(momentum: optimization.momentum, calibrate: optimization.calibrate, words: words),
                options: try optimization.applyingGivenOptions(to: try model.type.defaultOptions), splits: splits,
                dataPath: data.path.map { URL(fileURLWithPath: $0).path })
        }
        let directory = try RunDirectory(path: output.out)
        let lock = try directory.lock()
        defer { lock.release() }
        directory.removeStaleTemporaryFiles()
        if !output.resume { DiagnosticsFiles.removeEarlierRun(in: directory.url) }
        let threads = output.threads.apply(to: trainer)
        let options = trainer.options
        var files: DiagnosticsFiles?
        if inspection.isEnabled {
            trainer.diagnostics = Diagnostics(interval: inspection.interval(for: options))
            files = DiagnosticsFiles(directory: directory.url, startStep: trainer.step, tensorBoard: inspection.tensorboard)
        }
        let config = trainer.model.config
        let modelLine = describe(trainer.model) + (config.trainingDetails.map { ", \($0)" } ?? "")
        let resuming = output.resume ? ", resuming at step \(trainer.step)" : ""
        printConfiguration("makemore train", [
            ("data", data.describe(words, fallback: trainer.dataPath)),
            ("split", describe(trainer.splits)),
            ("model", modelLine),
            ("steps", "\(options.steps), batch \(options.batchSize), seed \(options.seed)\(resuming)"),
            ("threads", threads),
            ("optimizer", options.optimizer.summary),
            ("lr", options.learningRateSummary),
            ("eval", "dev loss and checkpoint every \(options.evaluationInterval) steps; \(RunDirectory.bestFile) at the lowest dev loss"),
            ("out", directory.url.path),
        ] + (files == nil ? [] : [("diagnostics", inspection.describe(for: options))]))
        let dataLine = data.describe(words, fallback: trainer.dataPath)
        var fileSeconds = 0.0
        // The report is written when training ends or stops; the table and the events at every save.
        func saveDiagnostics(losses: SplitLosses? = nil, report: Bool = false) throws {
            guard let files, let diagnostics = trainer.diagnostics else { return }
            let start = Date()
            defer { fileSeconds += Date().timeIntervalSince(start) }
            try files.save(log: trainer.log, snapshots: diagnostics.snapshots)
            guard inspection.diagnostics && report else { return }
            try writeReport(trainer: trainer, data: dataLine, losses: losses, to: directory)
        }

        try directory.save(trainer.checkpoint(), log: trainer.log)
        Interrupt.install()
        let progress = Progress(totalSteps: options.steps, startStep: trainer.step)
        let outcome: Trainer.Outcome
        do {
            outcome = try trainer.train(shouldStop: { Interrupt.requested }) { event in
                switch event {
                case .step(let step, let loss):
                    progress.step(step, loss: loss)
                case .evaluation(let step, let devLoss):
                    progress.evaluation(step, devLoss: devLoss)
                    try directory.save(trainer.checkpoint(), log: trainer.log, isBest: trainer.best?.step == step)
                    try saveDiagnostics()
                case .diagnostics:
                    break
                }
            }
        } catch {
            progress.finish(at: trainer.step)
            throw error
        }
        progress.finish(at: trainer.step)
        if let tuner = trainer.threadTuner {
            let counts = zip(tuner.candidates, tuner.stepsByCandidate).map { "\($1) steps on \($0)" }
            print("threads: " + counts.joined(separator: ", "))
        }
        if outcome == .stopped {
            try directory.save(trainer.checkpoint(), log: trainer.log)
            try saveDiagnostics(report: true)
            print("stopped at step \(trainer.step); saved \(directory.model.path). Continue with: makemore train --resume --out \(output.out)")
            throw ExitCode(128 + (Interrupt.receivedSignal ?? SIGINT))
        }

        if let finishing = trainer.model.finishingStep { print(finishing) }
        trainer.finish()
        let checkpoint = trainer.checkpoint(finished: true)
        let losses = SplitLosses(model: trainer.model, splits: trainer.splits)
        print(losses.table)
        var generator = SeededGenerator(seed: options.seed)
        let sampler = try Sampler(model: trainer.model, vocabulary: trainer.splits.vocabulary)
        let samples = try (0..<20).map { _ in try sampler.sample(using: &generator) }
        try directory.writeText(samples.joined(separator: "\n") + "\n", to: directory.samples)
        try directory.writePlot(of: trainer.log, title: "makemore \(describe(trainer.model))")
        // When the last evaluation is the best, best.safetensors is the finished model too.
        try directory.save(checkpoint, log: trainer.log, isBest: trainer.best?.step == trainer.step)
        print("samples: " + samples.prefix(8).joined(separator: ", ") + ", ...")
        if let best = trainer.best {
            print(String(format: "best: dev loss %.4f at step %d, saved as %@ (makemore eval --best)", best.devLoss, best.step, RunDirectory.bestFile))
        }
        try saveDiagnostics(losses: losses, report: true)
        let written = [RunDirectory.modelFile] + (trainer.best == nil ? [] : [RunDirectory.bestFile])
            + [RunDirectory.logFile, RunDirectory.plotFile, RunDirectory.samplesFile]
            + (files == nil ? [] : [DiagnosticsFiles.csvFile]) + (inspection.diagnostics ? [DiagnosticsFiles.reportFile] : [])
            + (files?.eventFile.map { [$0.lastPathComponent] } ?? [])
        print("wrote \(directory.url.path)/{\(written.joined(separator: ", "))}")
        if let diagnostics = trainer.diagnostics, files != nil {
            print(String(
                format: "diagnostics: %d snapshots in %.2f s (%.2f ms each), their files in %.2f s",
                diagnostics.snapshots.count, diagnostics.seconds, 1000 * diagnostics.seconds / Double(Swift.max(1, diagnostics.snapshots.count)),
                fileSeconds))
        }
        if let warnings = trainer.diagnostics.map({ Diagnostics.warnings($0.snapshots) }), !warnings.isEmpty {
            print("diagnostics warnings:")
            for line in warnings { print("  " + line) }
        }
    }
}

/// What to look at while training: the lecture's diagnostics, as a report and for TensorBoard.
struct DiagnosticsOptions: ParsableArguments {
    @Flag(help: "Write report.html: activation and gradient distributions, update:data ratios, batch-norm statistics (opens in any browser).")
    var diagnostics = false
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "With --diagnostics or --tensorboard: look at every this many steps, and the first and last (default: a tenth of --eval-every).",
        valueName: "n"))
    var diagnosticsEvery: Int?
    @Flag(help: "Write TensorBoard event files into the run directory (Loss/train, Loss/dev, lr, update ratios, histograms): tensorboard --logdir DIR.")
    var tensorboard = false

    var isEnabled: Bool { diagnostics || tensorboard }

    func validate() throws {
        if let diagnosticsEvery {
            guard diagnosticsEvery >= 1 else { throw ValidationError("--diagnostics-every must be at least 1, got \(diagnosticsEvery)") }
            guard isEnabled else { throw ValidationError("--diagnostics-every needs --diagnostics or --tensorboard") }
        }
    }

    func interval(for options: TrainingOptions) -> Int {
        diagnosticsEvery ?? Swift.max(1, options.evaluationInterval / 10)
    }

    func describe(for options: TrainingOptions) -> String {
        let outputs = [DiagnosticsFiles.csvFile] + (diagnostics ? [DiagnosticsFiles.reportFile] : []) + (tensorboard ? ["TensorBoard events"] : [])
        return "every \(interval(for: options)) steps (an extra forward and backward on a copy): " + outputs.joined(separator: ", ")
    }
}

/// Writes `report.html` of `trainer`'s run into `directory`.
func writeReport(trainer: Trainer, data: String, losses: SplitLosses?, to directory: RunDirectory) throws {
    let options = trainer.options
    var header = [
        ("model", describe(trainer.model)),
        ("configuration", "\(options.steps) steps, batch \(options.batchSize), seed \(options.seed); \(options.optimizer.summary); lr \(options.learningRateSummary)"),
        ("data", data),
        ("split", describe(trainer.splits)),
        ("trained", "\(trainer.step) steps"),
    ]
    if let losses {
        header.append(("final losses", String(format: "train %.4f, val %.4f, test %.4f", losses.train, losses.dev, losses.test)))
    }
    if let best = trainer.best { header.append(("best dev loss", String(format: "%.4f at step %d", best.devLoss, best.step))) }
    let report = DiagnosticsReport(
        title: "makemore \(trainer.model.name): diagnostics", header: header, log: trainer.log,
        snapshots: trainer.diagnostics?.snapshots ?? [])
    try directory.writeText(report.html(), to: directory.url.appendingPathComponent(DiagnosticsFiles.reportFile))
}

/// Where the run goes.
struct RunOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Run directory to write (and to resume from).", valueName: "dir"))
    var out = "out"
    @Flag(help: "Continue the run saved in --out. Options left out keep the checkpoint's values; --steps may extend it.")
    var resume = false
    @Flag(help: "Replace a run already in --out instead of refusing.")
    var overwrite = false
    @Option(parsing: .unconditional, help: """
        Threads that share each step: a number (2 at most are used), or auto: 1 or 2, whichever \
        runs faster, measured as training goes. The results are the same, bit for bit.
        """)
    var threads: Threads = .auto

    func validate() throws {
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
    }
}

/// `--threads`: a number, or `auto`.
enum Threads: ExpressibleByArgument, CustomStringConvertible {
    case auto
    case count(Int)

    init?(argument: String) {
        if argument == "auto" {
            self = .auto
        } else if let count = Int(argument), count >= 1 {
            self = .count(count)
        } else {
            return nil
        }
    }

    static var defaultValueDescription: String { "auto" }

    var description: String {
        switch self {
        case .auto: "auto"
        case .count(let count): "\(count)"
        }
    }

    /// Sets up `trainer` and returns the line to print.
    func apply(to trainer: Trainer) -> String {
        let most = Swift.min(2, ProcessInfo.processInfo.activeProcessorCount)
        switch self {
        case .count(let count):
            trainer.model.threads = count
            return "\(trainer.model.parallelism)"
        case .auto:
            trainer.model.threads = most
            let candidates = Array(1...trainer.model.parallelism)
            guard candidates.count > 1 else { return "1" }
            trainer.threadTuner = ThreadTuner(candidates: candidates, period: trainer.options.evaluationInterval)
            return "1 or 2, whichever runs faster (timed after each dev evaluation)"
        }
    }
}

/// The optimizer and its schedule. Unset options take the model's recipe or, on --resume, the checkpoint's.
struct OptimizationOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Number of training steps (default: mlp and wavenet 200000; transformer, rnn and gru 10000; bigram 25000; bow 100000).")
    var steps: Int?
    @Option(parsing: .unconditional, help: "Examples per step (words for transformer, bigram, bow, rnn, gru), at least 2 (default 32).")
    var batch: Int?
    @OptionGroup var optimizer: OptimizerOptions
    @Option(parsing: .unconditional, help: "Learning rate (default: mlp and wavenet 0.1, 5e-4 with --optimizer adamw; transformer 1e-3; bigram, bow, rnn, gru 5e-4).")
    var lr: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "How the learning rate moves: step (--lr, then a tenth of it from --lr-decay-step), constant, or cosine (from --lr down to a tenth of it at the last step) (default: mlp and wavenet step, transformer cosine, bigram, bow, rnn, gru constant).",
        valueName: "schedule"))
    var lrSchedule: LearningRateSchedule?
    @Option(parsing: .unconditional, help: "With --lr-schedule step: the step from which the learning rate is a tenth of --lr (default: mlp 100000, wavenet 150000).")
    var lrDecayStep: Int?
    @Option(parsing: .unconditional, help: "Measure the dev loss and save a checkpoint every this many steps (default: mlp and wavenet 10000; the others 500).")
    var evalEvery: Int?
    @Option(parsing: .unconditional, help: "Batch-norm momentum of the running statistics (default: mlp 0.001, wavenet 0.1).")
    var momentum: Double?
    @Flag(inversion: .prefixedNo, help: """
        After training, replace batch-norm's running statistics by those of the whole training split \
        (default: mlp yes, the lecture's calibration; wavenet no, the lecture evaluates with the running ones).
        """)
    var calibrate: Bool?
    @Option(parsing: .unconditional, help: "Seed of the initial values and the batches (default 2147483647).")
    var seed: UInt64?

    /// The library's checks of the training options (one set of messages), run before anything
    /// is read or written; momentum belongs to the model configuration, whose check runs on it.
    func validate() throws {
        do {
            var base = TrainingOptions()
            if optimizer.optimizer == nil && (optimizer.weightDecay != nil || optimizer.betas != nil || optimizer.adamEps != nil) {
                base.optimizer = .adamW(AdamW())  // AdamW's options alone: --resume of an AdamW run
            }
            try applyingGivenOptions(to: base).validate()
        } catch let error as MakemoreError {
            throw ValidationError(error.message)
        }
        if let momentum, !(momentum >= 0 && momentum <= 1) {
            throw ValidationError("--momentum must be in 0...1, got \(momentum)")
        }
    }

    /// `base` with the values given on the command line.
    func applyingGivenOptions(to base: TrainingOptions) throws -> TrainingOptions {
        var options = try optimizer.applying(to: base, learningRateGiven: lr != nil)
        if let steps { options.steps = steps }
        if let batch { options.batchSize = batch }
        if let lr { options.learningRate = lr }
        if let lrDecayStep { options.learningRateDecayStep = lrDecayStep }
        if let lrSchedule { options.learningRateSchedule = lrSchedule }
        if let evalEvery { options.evaluationInterval = evalEvery }
        if let seed { options.seed = seed }
        return options
    }
}

extension LearningRateSchedule: ExpressibleByArgument {}

/// Ctrl-C (SIGINT) or SIGTERM (what `kill`, `timeout` and schedulers send): the first asks
/// training to stop after the current step and save; a second one, while saving, ends the
/// process at once (the previous checkpoint is still whole).
enum Interrupt {
    private static let flag = Atomic<Int32>(0)

    static var requested: Bool { flag.load(ordering: .relaxed) != 0 }
    /// The signal that asked, for the exit status (128 + its number), or nil.
    static var receivedSignal: Int32? { requested ? flag.load(ordering: .relaxed) : nil }

    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number) { received in
                Interrupt.flag.store(received, ordering: .relaxed)
                signal(received, SIG_DFL)
            }
        }
    }
}

/// Progress of a training run: a live bar on a terminal; otherwise one plain line per evaluation.
final class Progress {
    let totalSteps: Int
    let isTerminal = isatty(STDOUT_FILENO) != 0
    private let start = Date()
    private let startStep: Int
    private var lastDraw = Date.distantPast
    private var lineStart: (step: Int, time: Date)
    private var lossSum = 0.0
    private var lossCount = 0
    private var smoothedLoss: Double?

    init(totalSteps: Int, startStep: Int) {
        self.totalSteps = totalSteps
        self.startStep = startStep
        lineStart = (startStep, Date())
    }

    func step(_ step: Int, loss: Float) {
        lossSum += Double(loss)
        lossCount += 1
        smoothedLoss = smoothedLoss.map { 0.99 * $0 + 0.01 * Double(loss) } ?? Double(loss)
        guard isTerminal else { return }
        let now = Date()
        if now.timeIntervalSince(lastDraw) < 0.1 && step != totalSteps { return }
        lastDraw = now
        let done = Double(step) / Double(max(totalSteps, 1))
        let width = 30
        let filled = Int(done * Double(width))
        let rate = Double(step - startStep) / max(now.timeIntervalSince(start), 1e-9)
        let eta = Double(totalSteps - step) / max(rate, 1e-9)
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let line = "[\(bar)] step \(step)/\(totalSteps) | "
            + String(format: "loss %.4f | %.0f steps/s | ETA ", smoothedLoss ?? .nan, rate) + formatDuration(eta)
        FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
    }

    func evaluation(_ step: Int, devLoss: Double) {
        let now = Date()
        let milliseconds = now.timeIntervalSince(lineStart.time) * 1000 / Double(max(step - lineStart.step, 1))
        let line = String(format: "step %d | loss %.4f | dev %.4f | %.4f ms/step",
                          step, lossSum / Double(max(lossCount, 1)), devLoss, milliseconds)
        if isTerminal {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line + "\n").utf8))
        } else {
            print(line)
            fflush(nil)
        }
        lossSum = 0
        lossCount = 0
        lineStart = (step, Date())
    }

    func finish(at step: Int) {
        let seconds = Date().timeIntervalSince(start)
        if isTerminal { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
        print(String(format: "trained %d steps in %.2f s", step - startStep, seconds))
    }

    private func formatDuration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
