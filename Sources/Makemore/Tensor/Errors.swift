/// The one error type of the library: a message that says what went wrong and how to fix it.
///
/// Library code throws it for bad input; only the command-line tool turns it into an exit code.
public struct MakemoreError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What went wrong and how to fix it, one line.
    public let message: String

    /// An error with `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// `message`.
    public var description: String { message }
}
