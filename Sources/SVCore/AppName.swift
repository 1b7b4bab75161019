/// The rules for app names (cli.md, Targets): any Unicode and spaces, but not `/`, a leading `.`,
/// control characters, only digits (that would read as an id), the word `all`, or empty.
public enum AppName {
    /// Longest name in bytes: it becomes part of a file name (255 bytes) with a suffix.
    public static let maxBytes = 200

    /// Why `name` is refused, or nil when it is a valid name.
    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "a name cannot be empty" }
        if name.utf8.count > maxBytes { return "a name is at most \(maxBytes) bytes" }
        if name == "all" { return "'all' targets every app and cannot be a name" }
        if name.utf8.first == UInt8(ascii: ".") { return "a name cannot start with '.'" }
        if name.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) { return "a name cannot be only digits (it would read as an id)" }
        for scalar in name.unicodeScalars {
            if scalar == "/" { return "a name cannot contain '/'" }
            if scalar.value < 0x20 || scalar.value == 0x7f || (scalar.value >= 0x80 && scalar.value < 0xa0) {
                return "a name cannot contain control characters"
            }
        }
        return nil
    }

    /// The name as it appears in a file name: `%` and space are percent-escaped, everything else
    /// is already safe (no `/`, no control characters, no leading dot).
    public static func fileComponent(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case " ": out += "%20"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The default name of a script: its file name without the extension ("api.js" → "api").
    public static func defaultName(forScript path: String) -> String {
        let base = String(AppSpec.baseName(path))
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return base }
        return String(base[..<dot])
    }
}

/// What a command aims at: an id, a name (all its instances) or every app.
public enum Target: Hashable, Sendable, Codable, CustomStringConvertible {
    case all
    case id(AppID)
    case name(String)

    /// "all", digits (an id), or a name.
    public init(parsing text: String) {
        if text == "all" {
            self = .all
        } else if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let id = Int(text) {
            self = .id(AppID(id))
        } else {
            self = .name(text)
        }
    }

    public var description: String {
        switch self {
        case .all: return "all"
        case .id(let id): return id.description
        case .name(let name): return name
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
