import Foundation
import SVProtocol
import Yams

/// `sv-yaml FILE`: prints the YAML document of FILE as one line of JSON (what sv reads from an
/// ecosystem file). Exit 0; 2 with `LINE:COLUMN: problem` on stderr for a YAML error; 1 when
/// the file cannot be read.
func json(of node: Node) throws -> JSON {
    switch node {
    case .scalar:
        if node.null != nil { return .null }
        if let flag = node.bool { return .bool(flag) }
        if let int = node.int { return .int(Int64(int)) }
        if let double = node.float { return .double(double) }
        return .string(node.string ?? "")
    case .sequence(let sequence):
        return .array(try sequence.map(json(of:)))
    case .mapping(let mapping):
        var object = JSONObject()
        for (key, value) in mapping {
            guard let name = key.string else { throw Problem(mark: key.mark, text: "a key must be a plain string") }
            object[name] = try json(of: value)
        }
        return .object(object)
    case .alias(let alias):
        throw Problem(mark: alias.mark, text: "an alias that could not be resolved")
    }
}

struct Problem: Error {
    var mark: Mark?
    var text: String
}

func fail(_ message: String, status: Int32) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(status)
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else { fail("usage: sv-yaml FILE", status: 64) }
guard let data = FileManager.default.contents(atPath: arguments[1]) else {
    fail("cannot read \(arguments[1]): \(String(cString: strerror(errno)))", status: 1)
}
guard let text = String(data: data, encoding: .utf8) else { fail("1:1: not UTF-8 text", status: 2) }
do {
    guard let root = try Yams.compose(yaml: text) else { fail("1:1: the file is empty", status: 2) }
    print(try json(of: root).serialized)
} catch let error as YamlError {
    switch error {
    case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
        .composer(let context, let problem, let mark, _):
        let where_ = context.map { " (\($0.text))" } ?? ""
        fail("\(mark.line):\(mark.column): \(problem)\(where_)", status: 2)
    case .duplicatedKeysInMapping(let duplicates, let context):
        fail("\(context.mark.line):\(context.mark.column): duplicate keys \(duplicates.joined(separator: ", "))", status: 2)
    default:
        fail("1:1: \(error)", status: 2)
    }
} catch let problem as Problem {
    fail("\(problem.mark.map { "\($0.line):\($0.column)" } ?? "1:1"): \(problem.text)", status: 2)
}
