/// Codable on top of `JSON`, through the standard library's `Encoder`/`Decoder` (design.md §2).
public enum JSONCoder {
    public static func encode<T: Encodable>(_ value: T) throws -> JSON {
        if let json = value as? JSON { return json }
        let node = EncodingNode()
        try value.encode(to: NodeEncoder(node: node, codingPath: []))
        return node.json
    }

    public static func decode<T: Decodable>(_ type: T.Type, from json: JSON) throws -> T {
        if let value = json as? T { return value }
        return try T(from: ValueDecoder(value: json, codingPath: []))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decode(type, from: try JSON.parse(text))
    }
}

extension JSON: Codable {
    public init(from decoder: any Decoder) throws {
        if let decoder = decoder as? ValueDecoder {
            self = decoder.value
            return
        }
        throw DecodingError.typeMismatch(
            JSON.self, .init(codingPath: decoder.codingPath, debugDescription: "JSON decodes only with JSONCoder"))
    }

    public func encode(to encoder: any Encoder) throws {
        guard let encoder = encoder as? NodeEncoder else {
            throw EncodingError.invalidValue(
                self, .init(codingPath: encoder.codingPath, debugDescription: "JSON encodes only with JSONCoder"))
        }
        encoder.node.kind = .value(self)
    }
}

// MARK: - Encoding

/// A value under construction: containers write into it by reference, `json` reads it out.
final class EncodingNode {
    enum Kind {
        case value(JSON)
        case object(keys: [String], children: [String: EncodingNode])
        case array([EncodingNode])
    }
    var kind: Kind = .value(.null)

    var json: JSON {
        switch kind {
        case .value(let value): return value
        case .array(let nodes): return .array(nodes.map(\.json))
        case .object(let keys, let children):
            var object = JSONObject()
            for key in keys { object[key] = children[key]?.json }
            return .object(object)
        }
    }

    func child(forKey key: String) -> EncodingNode {
        let child = EncodingNode()
        if case .object(var keys, var children) = kind {
            if children[key] == nil { keys.append(key) }
            children[key] = child
            kind = .object(keys: keys, children: children)
        } else {
            kind = .object(keys: [key], children: [key: child])
        }
        return child
    }

    func appendChild() -> EncodingNode {
        let child = EncodingNode()
        if case .array(var nodes) = kind {
            nodes.append(child)
            kind = .array(nodes)
        } else {
            kind = .array([child])
        }
        return child
    }
}

struct NodeEncoder: Encoder {
    let node: EncodingNode
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = node.kind {} else { node.kind = .object(keys: [], children: [:]) }
        return KeyedEncodingContainer(KeyedEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.kind {} else { node.kind = .array([]) }
        return UnkeyedEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleEncoder(node: node, codingPath: codingPath)
    }
}

/// The JSON of a primitive, or nil when `value` is not one.
private func primitive<T: Encodable>(_ value: T, path: [any CodingKey]) throws -> JSON? {
    switch value {
    case let v as String: return .string(v)
    case let v as Bool: return .bool(v)
    case let v as Int: return .int(Int64(v))
    case let v as Int32: return .int(Int64(v))
    case let v as Int64: return .int(v)
    case let v as UInt32: return .int(Int64(v))
    case let v as Double:
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: path, debugDescription: "\(v) has no JSON form"))
        }
        return .double(v)
    case let v as JSON: return v
    default: return nil
    }
}

private func encodeValue<T: Encodable>(_ value: T, into node: EncodingNode, path: [any CodingKey]) throws {
    if let json = try primitive(value, path: path) {
        node.kind = .value(json)
    } else {
        try value.encode(to: NodeEncoder(node: node, codingPath: path))
    }
}

struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodingNode
    var codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.child(forKey: key.stringValue).kind = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeValue(value, into: node.child(forKey: key.stringValue), path: codingPath + [key])
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        // Absent optionals are left out, not written as null: smaller frames, same meaning.
        if let value { try encode(value, forKey: key) }
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        NodeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder {
        NodeEncoder(node: node.child(forKey: "super"), codingPath: codingPath)
    }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }
}

struct IndexKey: CodingKey {
    var stringValue: String { String(index) }
    var intValue: Int? { index }
    let index: Int
    init(_ index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.index = intValue }
}

struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let node: EncodingNode
    var codingPath: [any CodingKey]
    var count: Int {
        if case .array(let nodes) = node.kind { return nodes.count }
        return 0
    }

    mutating func encodeNil() throws { node.appendChild().kind = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [IndexKey(count)]
        try encodeValue(value, into: node.appendChild(), path: path)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        NodeEncoder(node: node.appendChild(), codingPath: codingPath).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.appendChild(), codingPath: codingPath).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { NodeEncoder(node: node.appendChild(), codingPath: codingPath) }
}

struct SingleEncoder: SingleValueEncodingContainer {
    let node: EncodingNode
    var codingPath: [any CodingKey]
    mutating func encodeNil() throws { node.kind = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try encodeValue(value, into: node, path: codingPath) }
}

// MARK: - Decoding

struct ValueDecoder: Decoder {
    let value: JSON
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch(JSONObject.self, value, codingPath) }
        return KeyedDecodingContainer(KeyedDecoder<Key>(object: object, codingPath: codingPath))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch([JSON].self, value, codingPath) }
        return UnkeyedDecoder(items: items, codingPath: codingPath)
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleDecoder(value: value, codingPath: codingPath)
    }
}

private func mismatch(_ type: Any.Type, _ value: JSON, _ path: [any CodingKey]) -> DecodingError {
    let found: String
    switch value {
    case .null: found = "null"
    case .bool: found = "a boolean"
    case .int, .double: found = "a number"
    case .string: found = "a string"
    case .array: found = "an array"
    case .object: found = "an object"
    }
    return DecodingError.typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found \(found)"))
}

private func decodeValue<T: Decodable>(_ type: T.Type, from value: JSON, path: [any CodingKey]) throws -> T {
    switch type {
    case is String.Type:
        guard case .string(let s) = value else { throw mismatch(type, value, path) }
        return s as! T  // the case above proves T is String
    case is Bool.Type:
        guard case .bool(let b) = value else { throw mismatch(type, value, path) }
        return b as! T  // proven Bool
    case is Double.Type:
        switch value {
        case .int(let i): return Double(i) as! T  // proven Double
        case .double(let d): return d as! T  // proven Double
        default: throw mismatch(type, value, path)
        }
    case is Int.Type: return try integer(Int.self, value, path) as! T  // proven Int
    case is Int32.Type: return try integer(Int32.self, value, path) as! T  // proven Int32
    case is Int64.Type: return try integer(Int64.self, value, path) as! T  // proven Int64
    case is UInt32.Type: return try integer(UInt32.self, value, path) as! T  // proven UInt32
    case is JSON.Type: return value as! T  // proven JSON
    default: return try T(from: ValueDecoder(value: value, codingPath: path))
    }
}

private func integer<I: FixedWidthInteger>(_ type: I.Type, _ value: JSON, _ path: [any CodingKey]) throws -> I {
    guard let wide = value.intValue else { throw mismatch(type, value, path) }
    guard let exact = I(exactly: wide) else {
        throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "\(wide) does not fit \(type)"))
    }
    return exact
}

struct KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    var codingPath: [any CodingKey]
    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    private func value(_ key: Key) throws -> JSON {
        guard let value = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing '\(key.stringValue)'"))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { (object[key.stringValue] ?? .null) == .null }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decodeValue(type, from: try value(key), path: codingPath + [key])
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = object[key.stringValue], value != .null else { return nil }
        return try decodeValue(type, from: value, path: codingPath + [key])
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try ValueDecoder(value: try value(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(value: try value(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder {
        ValueDecoder(value: object["super"] ?? .null, codingPath: codingPath)
    }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        ValueDecoder(value: object[key.stringValue] ?? .null, codingPath: codingPath + [key])
    }
}

struct UnkeyedDecoder: UnkeyedDecodingContainer {
    let items: [JSON]
    var codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> JSON {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                JSON.self, .init(codingPath: codingPath + [IndexKey(currentIndex)], debugDescription: "array ended"))
        }
        defer { currentIndex += 1 }
        return items[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let path = codingPath + [IndexKey(currentIndex)]
        return try decodeValue(type, from: try next(), path: path)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try ValueDecoder(value: try next(), codingPath: codingPath).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try ValueDecoder(value: try next(), codingPath: codingPath).unkeyedContainer()
    }
    mutating func superDecoder() throws -> any Decoder { ValueDecoder(value: try next(), codingPath: codingPath) }
}

struct SingleDecoder: SingleValueDecodingContainer {
    let value: JSON
    var codingPath: [any CodingKey]
    func decodeNil() -> Bool { value == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type, from: value, path: codingPath) }
}
