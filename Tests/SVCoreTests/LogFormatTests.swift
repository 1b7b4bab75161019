import SVCore
import Testing

@Suite struct LogFormatTests {
    static let time = CalendarTime(year: 2026, month: 3, day: 7, hour: 14, minute: 5, second: 9, millisecond: 42, utcOffset: 3600 + 1800)

    @Test(arguments: [
        ("YYYY-MM-DD HH:mm:ss Z", "2026-03-07 14:05:09 +01:30"),
        ("YYYY-MM-DDTHH:mm:ss.SSSZ", "2026-03-07T14:05:09.042+01:30"),
        ("YY/M/D h:m:s A ZZ", "26/3/7 2:5:9 PM +0130"),
        ("[at] HH:mm", "at 14:05"),
        ("hh a", "02 pm"),
    ])
    func dayjsTokens(pattern: String, expected: String) {
        #expect(LogDateFormat(pattern).format(Self.time) == expected)
    }

    @Test func negativeOffsetAndMidnight() {
        let t = CalendarTime(year: 2026, month: 12, day: 1, hour: 0, minute: 0, second: 0, millisecond: 0, utcOffset: -5 * 3600)
        #expect(LogDateFormat("hh:mm A Z").format(t) == "12:00 AM -05:00")
    }

    @Test func millisecondsDisableTheCache() {
        #expect(LogDateFormat.iso8601.hasMilliseconds)
        #expect(!LogDateFormat("YYYY-MM-DD HH:mm:ss").hasMilliseconds)
    }

    @Test(arguments: [("10M", Int64(10 << 20)), ("512K", 512 << 10), ("1G", 1 << 30), ("4096", 4096), ("2mb", 2 << 20), ("7B", 7)])
    func byteSizes(text: String, bytes: Int64) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "M", "-1M", "1.5M", "ten", "99999999999999999999G"])
    func badByteSizes(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    func prefixed(_ chunks: [String]) -> String {
        var prefixer = LinePrefixer()
        var out: [UInt8] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { prefixer.process($0, into: &out, prefix: Array("> ".utf8)) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test func everyLineGetsOnePrefix() {
        #expect(prefixed(["a\nb\n"]) == "> a\n> b\n")
        // A line split across two reads gets one prefix.
        #expect(prefixed(["hel", "lo\nwor", "ld\n"]) == "> hello\n> world\n")
        #expect(prefixed(["\n\n"]) == "> \n> \n")
        #expect(prefixed(["no newline"]) == "> no newline")
    }
}
