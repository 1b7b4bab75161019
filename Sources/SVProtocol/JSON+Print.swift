extension JSON {
    /// The compact serialization: one line, no spaces (NDJSON frames, the IPC channel).
    public var serialized: String { String(decoding: serializedBytes, as: UTF8.self) }

    /// The compact serialization as UTF-8 bytes, ready for write(2).
    public var serializedBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out, indent: nil, level: 0)
        return out
    }

    /// Indented with two spaces (`prettylist`).
    public var pretty: String {
        var out: [UInt8] = []
        write(to: &out, indent: 2, level: 0)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(to out: inout [UInt8], indent: Int?, level: Int) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .int(let i): out += String(i).utf8
        case .double(let d):
            // Not-a-number and infinities have no JSON form; the encoder refuses them before here.
            out += (d.isFinite ? String(d) : "null").utf8  // "1.0", "0.1", "1e-05": all valid JSON
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let items):
            if items.isEmpty {
                out += "[]".utf8
                return
            }
            out.append(UInt8(ascii: "["))
            for (n, item) in items.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent, level + 1)
                item.write(to: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.count == 0 {
                out += "{}".utf8
                return
            }
            out.append(UInt8(ascii: "{"))
            for (n, pair) in object.pairs.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent, level + 1)
                JSON.writeString(pair.key, to: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                pair.value.write(to: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append(UInt8(ascii: "}"))
        }
    }

    private func newline(_ out: inout [UInt8], _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// Writes `s` quoted, escaping what RFC 8259 requires, plus U+2028/U+2029 (JavaScript line ends),
    /// byte by byte over the UTF-8 (no per-character work).
    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var i = 0
            var runStart = 0
            while i < bytes.count {
                let b = bytes[i]
                let escape: [UInt8]?
                switch b {
                case UInt8(ascii: "\""): escape = Array("\\\"".utf8)
                case UInt8(ascii: "\\"): escape = Array("\\\\".utf8)
                case 0x0A: escape = Array("\\n".utf8)
                case 0x0D: escape = Array("\\r".utf8)
                case 0x09: escape = Array("\\t".utf8)
                case 0x00..<0x20, 0x7F:
                    escape = Array("\\u00".utf8) + [hexDigits[Int(b >> 4)], hexDigits[Int(b & 0xF)]]
                case 0xE2 where i + 2 < bytes.count && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9):
                    escape = Array((bytes[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                default: escape = nil
                }
                guard let escape else {
                    i += 1
                    continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                out.append(contentsOf: escape)
                i += b == 0xE2 ? 3 : 1
                runStart = i
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
