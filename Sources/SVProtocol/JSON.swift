/// A JSON document: the daemon's own codec (no Foundation, design.md §2).
/// Integers stay exact (`int`); other numbers are `double`. Objects keep their key order.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public subscript(key: String) -> JSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// A JSON object that remembers the order its keys were first set in. The last duplicate wins,
/// as in Foundation's parser.
public struct JSONObject: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var values: [String: JSON] = [:]

    public init() {}
    public init(_ pairs: [(String, JSON)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public subscript(key: String) -> JSON? {
        get { values[key] }
        set {
            if values[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil, values[key] != nil { keys.removeAll { $0 == key } }
            values[key] = newValue
        }
    }

    public var pairs: [(key: String, value: JSON)] {
        keys.compactMap { key in values[key].map { (key, $0) } }
    }

    public var count: Int { keys.count }

    public static func == (a: JSONObject, b: JSONObject) -> Bool { a.values == b.values }
}
