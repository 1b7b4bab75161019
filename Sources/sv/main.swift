import Glibc
import SVClient

exit(SV.run(Array(CommandLine.arguments.dropFirst())))
