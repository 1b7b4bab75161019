import Glibc
import SVDaemon

// Signals first, before anything could start a thread (design.md §1).
SVDaemonMain.blockSignals()

var environment: [String: String] = [:]
var cursor = environ
while let entry = cursor.pointee {
    let text = String(cString: entry)
    if let equals = text.utf8.firstIndex(of: UInt8(ascii: "=")) {
        environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
    }
    cursor += 1
}
exit(SVDaemonMain.run(arguments: CommandLine.arguments, environment: environment))
