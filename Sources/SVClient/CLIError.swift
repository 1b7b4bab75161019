/// A failure the CLI reports as one line on stderr and exit code 1 (STYLE.md 23, 24).
public struct CLIError: Error, CustomStringConvertible {
    public var description: String
    /// svd's error code when the failure came from svd ("not_found", "conflict", …).
    public var code: String?
    public init(_ description: String, code: String? = nil) {
        self.description = description
        self.code = code
    }
}
