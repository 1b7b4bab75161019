import Foundation
import SVCore
import Testing

/// Cron next-fire tables (pure: fixed instants, POSIX and TZif zones; no clock).
@Suite struct CronTests {
    /// UTC seconds of a civil UTC time.
    func utc(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0) -> Int64 {
        CivilDate.days(year: y, month: mo, day: d) * 86_400 + Int64(h * 3600 + mi * 60 + s)
    }

    func next(_ expression: String, after t: Int64, zone: TimeZoneRules = .utc) throws -> Int64? {
        try CronSchedule(parsing: expression).next(after: t, in: zone)
    }

    @Test(arguments: [
        ("*/15 * * * *", (2026, 12, 1, 10, 7, 30), (2026, 12, 1, 10, 15, 0)),
        ("0 * * * *", (2026, 12, 1, 23, 0, 0), (2026, 12, 2, 0, 0, 0)),
        ("@hourly", (2026, 12, 31, 23, 59, 59), (2027, 1, 1, 0, 0, 0)),
        ("@daily", (2026, 2, 28, 12, 0, 0), (2026, 3, 1, 0, 0, 0)),
        ("@weekly", (2026, 12, 1, 0, 0, 0), (2026, 12, 6, 0, 0, 0)),  // the next Sunday
        ("@monthly", (2026, 12, 15, 0, 0, 0), (2027, 1, 1, 0, 0, 0)),
        ("@yearly", (2026, 1, 1, 0, 0, 0), (2027, 1, 1, 0, 0, 0)),
        // Month ends: the 31st skips the months without one.
        ("0 0 31 * *", (2026, 1, 31, 0, 0, 1), (2026, 3, 31, 0, 0, 0)),
        ("0 0 31 * *", (2026, 4, 1, 0, 0, 0), (2026, 5, 31, 0, 0, 0)),
        // Leap years: February 29 only in them (2100 is not one).
        ("0 12 29 2 *", (2025, 3, 1, 0, 0, 0), (2028, 2, 29, 12, 0, 0)),
        ("0 0 29 2 *", (2096, 3, 1, 0, 0, 0), (2104, 2, 29, 0, 0, 0)),
        // Six fields: seconds first.
        ("30 * * * * *", (2026, 12, 1, 10, 0, 30), (2026, 12, 1, 10, 1, 30)),
        ("*/5 * * * * *", (2026, 12, 1, 10, 0, 58), (2026, 12, 1, 10, 1, 0)),
        // Both day fields restricted: either matches (the 13th, or a Friday).
        ("0 0 13 * 5", (2026, 12, 1, 0, 0, 0), (2026, 12, 4, 0, 0, 0)),
        ("0 0 13 * FRI", (2026, 12, 5, 0, 0, 0), (2026, 12, 11, 0, 0, 0)),
        // Names, ranges with steps, lists, 7 as Sunday.
        ("0 9 * JAN-MAR MON-FRI", (2026, 12, 1, 0, 0, 0), (2027, 1, 1, 9, 0, 0)),
        ("0 10-16/3 * * *", (2026, 12, 1, 13, 0, 0), (2026, 12, 1, 16, 0, 0)),
        ("15,45 * * * *", (2026, 12, 1, 10, 20, 0), (2026, 12, 1, 10, 45, 0)),
        ("0 0 * * 7", (2026, 12, 1, 0, 0, 0), (2026, 12, 6, 0, 0, 0)),
    ])
    func nextFire(
        expression: String, after: (Int, Int, Int, Int, Int, Int), expected: (Int, Int, Int, Int, Int, Int)
    ) throws {
        let t = utc(after.0, after.1, after.2, after.3, after.4, after.5)
        let want = utc(expected.0, expected.1, expected.2, expected.3, expected.4, expected.5)
        #expect(try next(expression, after: t) == want)
    }

    @Test func neverFiringIsNil() throws {
        #expect(try next("0 0 30 2 *", after: utc(2026, 1, 1)) == nil)
    }

    @Test(arguments: [
        ("* * * *", "has 4 fields"), ("60 * * * *", "minute 60 is out of range 0-59"), ("* 24 * * *", "hour 24"),
        ("* * 0 * *", "day of month 0"), ("* * * 13 *", "month 13"), ("* * * * MOON", "'MOON' is not a valid day of week"),
        ("*/0 * * * *", "not a valid step"), ("5-1 * * * *", "goes backwards"), ("@often", "unknown cron name"),
        ("L * * * *", "'L' is not a valid minute"),
    ])
    func badExpressions(expression: String, message: String) {
        #expect {
            _ = try CronSchedule(parsing: expression)
        } throws: { error in
            (error as? CronSchedule.Problem)?.description.contains(message) == true
        }
    }

    // MARK: - DST (Europe/Berlin's rule, as TZ gives it)

    let berlin = try! TimeZoneRules(posix: "CET-1CEST,M3.5.0,M10.5.0/3")

    @Test func posixRuleOffsets() throws {
        #expect(berlin.offset(at: utc(2026, 1, 15)) == 3600)
        #expect(berlin.offset(at: utc(2026, 7, 15)) == 7200)
        // 2026: CEST from March 29 01:00 UTC to October 25 01:00 UTC.
        #expect(berlin.offset(at: utc(2026, 3, 29, 0, 59, 59)) == 3600)
        #expect(berlin.offset(at: utc(2026, 3, 29, 1)) == 7200)
        #expect(berlin.offset(at: utc(2026, 10, 25, 0, 59, 59)) == 7200)
        #expect(berlin.offset(at: utc(2026, 10, 25, 1)) == 3600)
        // The southern hemisphere: daylight time spans the new year.
        let sydney = try TimeZoneRules(posix: "AEST-10AEDT,M10.1.0,M4.1.0/3")
        #expect(sydney.offset(at: utc(2026, 1, 15)) == 11 * 3600)
        #expect(sydney.offset(at: utc(2026, 7, 15)) == 10 * 3600)
        let utcRule = try TimeZoneRules(posix: "UTC0")
        #expect(utcRule.offset(at: utc(2026, 7, 15)) == 0)
        #expect(throws: TimeZoneRules.Problem.self) { try TimeZoneRules(posix: "nonsense,,") }
    }

    @Test func localTimesFireInLocalTime() throws {
        // 12:00 Berlin is 11:00 UTC in winter, 10:00 UTC in summer.
        #expect(try next("0 12 * * *", after: utc(2026, 1, 15), zone: berlin) == utc(2026, 1, 15, 11))
        #expect(try next("0 12 * * *", after: utc(2026, 7, 15), zone: berlin) == utc(2026, 7, 15, 10))
    }

    @Test func aSkippedTimeFiresOnceWhenTheClocksJump() throws {
        // March 29 2026: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
        let first = try #require(try next("30 2 * * *", after: utc(2026, 3, 28, 12), zone: berlin))
        #expect(first == utc(2026, 3, 29, 1))  // the jump: 03:00 CEST
        #expect(try next("30 2 * * *", after: first, zone: berlin) == utc(2026, 3, 30, 0, 30))  // 02:30 CEST
        // Every minute of the skipped hour: one firing at the jump, then 03:00 onwards.
        let jump = try #require(try next("* 2 * * *", after: utc(2026, 3, 29, 0, 59), zone: berlin))
        #expect(jump == utc(2026, 3, 29, 1))
        #expect(try next("* 2-3 * * *", after: jump, zone: berlin) == utc(2026, 3, 29, 1, 1))
    }

    @Test func aRepeatedTimeFiresOnce() throws {
        // October 25 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        let first = try #require(try next("30 2 * * *", after: utc(2026, 10, 24, 12), zone: berlin))
        #expect(first == utc(2026, 10, 25, 0, 30))  // 02:30 CEST, the first time
        #expect(try next("30 2 * * *", after: first, zone: berlin) == utc(2026, 10, 26, 1, 30))  // the next day, CET
        // Computed again during the repeated hour (02:10 CET, the second pass): the repeated
        // times do not fire again; the next firing is after the hour.
        let secondPass = utc(2026, 10, 25, 1, 10)
        #expect(try next("30 2 * * *", after: secondPass, zone: berlin) == utc(2026, 10, 26, 1, 30))
        #expect(try next("*/15 * * * *", after: secondPass, zone: berlin) == utc(2026, 10, 25, 2, 0))  // 03:00 CET
    }

    // MARK: - TZif

    @Test func tzifFileAgreesWithItsRule() throws {
        let path = "/usr/share/zoneinfo/Europe/Berlin"
        let data = try #require(FileManager.default.contents(atPath: path), "tzdata is needed (Scripts/test installs it)")
        let zone = try TimeZoneRules(tzif: [UInt8](data))
        // From the transition table (2026) and from the footer rule (2040, past the table).
        for (t, offset) in [
            (utc(2026, 1, 15), Int32(3600)), (utc(2026, 7, 15), 7200), (utc(2026, 3, 29, 1), 7200),
            (utc(2026, 3, 29, 0, 59, 59), 3600), (utc(2040, 7, 1), 7200), (utc(2040, 12, 1), 3600),
            (utc(1950, 1, 1), 3600),
        ] {
            #expect(zone.offset(at: t) == offset, "at \(t)")
        }
        #expect(try next("30 2 * * *", after: utc(2026, 3, 28, 12), zone: zone) == utc(2026, 3, 29, 1))
        #expect(throws: TimeZoneRules.Problem.self) { try TimeZoneRules(tzif: Array("not a zone".utf8)) }
    }

    @Test func civilDatesRoundTrip() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let date = CivilDate(days: days)
            #expect(date.days == days)
        }
        #expect(CivilDate(days: 0) == CivilDate(year: 1970, month: 1, day: 1))
        #expect(CivilDate.weekday(days: CivilDate.days(year: 2026, month: 12, day: 1)) == 2)  // a Tuesday
    }
}
