import Glibc
import SVLinux
import Testing

/// `readdir` records end after their name: reading one must not touch the bytes after it.
@Suite struct DirectoryEntryTests {
    /// A record whose name ends right before a page that cannot be read: copying all of
    /// `d_name` (256 bytes), as svd once did, faults here; reading in place does not.
    @Test func aNameIsReadInPlaceUpToItsEnd() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let memory = try #require(mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(memory, 2 * page) }
        #expect(mprotect(memory + page, page, PROT_NONE) == 0)
        let name = Array("12345".utf8) + [0]
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let record = memory + page - offset - name.count
        name.withUnsafeBytes { (record + offset).copyMemory(from: $0.baseAddress!, byteCount: name.count) }
        let entry = record.bindMemory(to: dirent.self, capacity: 1)
        #expect(Array(Directory.name(of: entry)) == Array("12345".utf8))
    }

    @Test func entriesOfARealFolder() throws {
        var template = Array("/tmp/sv-dir-XXXXXX".utf8CString)
        let folder = String(cString: try #require(mkdtemp(&template)))
        defer { rmdir(folder + "/sub"); unlink(folder + "/file"); rmdir(folder) }
        #expect(mkdir(folder + "/sub", 0o700) == 0)
        close(open(folder + "/file", O_CREAT | O_WRONLY, 0o600))
        let entries = try #require(Directory.entries(folder)).sorted { $0.name < $1.name }
        #expect(entries.map(\.name) == ["file", "sub"])
        #expect(entries.map(\.isDirectory) == [false, true])
    }
}
