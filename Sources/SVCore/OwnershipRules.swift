/// What "ours" means for svd's home and files (STYLE.md 27b), as a pure function of what
/// `lstat` said: `sv` and svd both refuse, with the same words (ssh's StrictModes is the model).
public enum OwnershipRules {
    /// What `lstat(2)` told of a directory.
    public struct Facts: Sendable {
        public var isSymlink: Bool
        public var isDirectory: Bool
        public var owner: UInt32
        public var mode: UInt32
        public init(isSymlink: Bool, isDirectory: Bool, owner: UInt32, mode: UInt32) {
            self.isSymlink = isSymlink
            self.isDirectory = isDirectory
            self.owner = owner
            self.mode = mode
        }
    }

    /// Why the directory at `path` cannot be ours, or nil. `describe` names a uid ("uid 1000 (deploy)").
    public static func directoryProblem(_ path: String, _ facts: Facts, me: UInt32, describe: (UInt32) -> String) -> String? {
        if facts.isSymlink { return "\(path) is a symbolic link: refused (point SV_HOME at the real directory)" }
        if !facts.isDirectory { return "\(path) is not a directory" }
        if facts.owner != me { return foreignOwner(path, owner: describe(facts.owner), me: describe(me)) }
        if facts.mode & 0o022 != 0 {
            let mode = String(facts.mode & 0o777, radix: 8)
            return "\(path) is writable by its group or others (mode \(mode)): refused (chmod go-w \(path))"
        }
        return nil
    }

    /// The line for a file or directory of another user.
    public static func foreignOwner(_ path: String, owner: String, me: String) -> String {
        "\(path) belongs to \(owner), not to \(me) who runs sv: refused (use a directory of your own, e.g. an SV_HOME you own or `sudo -H`, or run sv as its owner)"
    }
}
