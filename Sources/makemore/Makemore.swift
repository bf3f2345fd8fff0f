import ArgumentParser
import Makemore

@main
struct MakemoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "makemore",
        abstract: "Train, check and sample character-level language models whose every gradient is written by hand.",
        version: "0.3.0",
        subcommands: [TrainCommand.self, SampleCommand.self, EvalCommand.self, GradCheckCommand.self, BenchCommand.self, DiagnoseCommand.self]
    )
}
