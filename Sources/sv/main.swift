import Glibc
import SVClient

// A write to a closed socket (svd refused an oversized request) is an error to report, not a
// silent death by SIGPIPE.
signal(SIGPIPE, SIG_IGN)
exit(SV.run(Array(CommandLine.arguments.dropFirst())))
