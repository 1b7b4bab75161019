import Foundation
import SVCore
import SVProtocol
import Testing

/// The codec against Foundation's parser: the same verdict on every document (design.md §2).
@Suite struct JSONTests {
    static let valid: [String] = [
        "{}", "[]", "0", "-0", "1.5", "-12.25e3", "1E-7", "true", "false", "null", "\"\"", "\"a\\nb\"",
        "\"\\u00e9\\u4e2d\"", "\"\\ud83d\\ude00\"", "\"😀 café\"", "[1,[2,[3,[]]]]", "{\"a\":{\"b\":[null,true]}}",
        " \t\n{ \"k\" : 1 }\r\n", "9223372036854775807", "-9223372036854775808", "12345678901234567890",
        "\"\\/\\b\\f\\r\\t\\\"\\\\\"", "{\"a\":1,\"a\":2}", "[1e308]", "0.000001",
    ]
    static let invalid: [String] = [
        "", " ", "{", "}", "[01]", "+1", ".5", "1.", "1e", "-", "nul", "tru", "\"abc",
        "\"a\u{01}b\"", "\"\\x\"", "\"\\u12\"", "{a:1}", "{\"a\" 1}", "[1 2]", "'a'", "[1]]", "{}{}", "NaN",
        "Infinity", "\"\\ud800\"", "\"\\udc00\"",
    ]

    @Test(arguments: valid)
    func validDocumentsParseLikeFoundation(text: String) throws {
        let data = Data(text.utf8)
        #expect((try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil)
        let parsed = try JSON.parse(text)
        // Printing and parsing again gives the same value.
        #expect(try JSON.parse(parsed.serialized) == parsed)
        #expect(try JSON.parse(parsed.pretty) == parsed)
    }

    @Test(arguments: invalid)
    func invalidDocumentsAreRefusedLikeFoundation(text: String) {
        let data = Data(text.utf8)
        #expect((try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) == nil)
        #expect((try? JSON.parse(text)) == nil)
    }

    /// Foundation's parser on Linux (swift-foundation 6.3) accepts trailing commas; RFC 8259 and
    /// JavaScript's JSON.parse do not, and neither does sv: a file sv accepts must be JSON anywhere.
    @Test(arguments: ["[1,]", "{\"a\":1,}"])
    func trailingCommasAreRefusedThoughFoundationAcceptsThem(text: String) {
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil)
        #expect((try? JSON.parse(text)) == nil)
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = [0x22, 0xFF, 0xFE, 0x22]
        #expect((try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) == nil)
        #expect((try? JSON.parse(bytes)) == nil)
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect((try? JSON.parse(deep)) == nil)
    }

    @Test func integersStayExact() throws {
        #expect(try JSON.parse("9007199254740993") == .int(9_007_199_254_740_993))
        #expect(try JSON.parse("1.0") == .double(1.0))
    }

    @Test func serializationEscapesControlCharactersAndLineSeparators() throws {
        let text = JSON.string("a\"b\\c\n\u{01}\u{2028}").serialized
        #expect(text == "\"a\\\"b\\\\c\\n\\u0001\\u2028\"")
        // Foundation reads what we write.
        let back = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? String
        #expect(back == "a\"b\\c\n\u{01}\u{2028}")
    }

    @Test func objectsKeepKeyOrder() throws {
        let json = try JSON.parse("{\"z\":1,\"a\":2,\"m\":3}")
        #expect(json.serialized == "{\"z\":1,\"a\":2,\"m\":3}")
    }

    @Test func randomDocumentsRoundTrip() throws {
        // A small deterministic fuzz: generated values print and parse back to themselves.
        var generator = SplitMix(seed: 42)
        for _ in 0..<500 {
            let value = generator.json(depth: 4)
            #expect(try JSON.parse(value.serialized) == value)
            let foundation = try JSONSerialization.jsonObject(with: Data(value.serialized.utf8), options: [.fragmentsAllowed])
            _ = foundation
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func json(depth: Int) -> JSON {
        let pick = next() % (depth > 0 ? 7 : 5)
        switch pick {
        case 0: return .null
        case 1: return .bool(next() % 2 == 0)
        case 2: return .int(Int64(bitPattern: next()) >> Int64(next() % 60))
        case 3: return .double(Double(Int64(bitPattern: next()) >> 20) / 1024.0 + 0.5)
        case 4:
            let scalars: [Unicode.Scalar] = ["a", "\"", "\\", "\n", "\u{01}", "é", "中", "😀", " ", "\u{2028}"]
            var s = ""
            for _ in 0..<(next() % 8) { s.unicodeScalars.append(scalars[Int(next() % UInt64(scalars.count))]) }
            return .string(s)
        case 5: return .array((0..<(next() % 4)).map { _ in json(depth: depth - 1) })
        default:
            var object = JSONObject()
            for n in 0..<(next() % 4) { object["k\(n)\(next() % 3)"] = json(depth: depth - 1) }
            return .object(object)
        }
    }
}
