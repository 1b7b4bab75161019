/// A failure the CLI reports as one line on stderr and exit code 1 (STYLE.md 23, 24).
public struct CLIError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
