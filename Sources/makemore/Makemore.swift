import ArgumentParser
import Makemore

@main
struct MakemoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "makemore",
        abstract: "Train, check and sample a character-level MLP whose every gradient is written by hand.",
        subcommands: [TrainCommand.self, SampleCommand.self, EvalCommand.self, GradCheckCommand.self, BenchCommand.self]
    )
}
