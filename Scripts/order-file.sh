#!/usr/bin/env bash
# Regenerates Scripts/svd.order and Scripts/sv.order: the functions a real run executes, in
# first-use order, for lld's --symbol-ordering-file (design.md §8: hot code packed together;
# -1.5 MB of svd's RSS, fewer page faults per sv command). A stale order file only costs a
# little memory or time; regenerate after large changes.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
. Scripts/lib/deps.sh
sv_prepare_static_link
swift build -c release --static-swift-stdlib --product svd >/dev/null
swift build -c release --static-swift-stdlib --product sv >/dev/null
swift build -c release --product testchild >/dev/null
R="$(swift build -c release --show-bin-path)"
export SV_HOME="$(mktemp -d /tmp/svorder-XXXX)"
out="$SV_HOME/cg"
# valgrind 3.19 cannot read the toolchain's DWARF 5: profile a copy without debug info.
strip --strip-debug -o "$SV_HOME/svd" "$R/svd"
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$out.%p" "$SV_HOME/svd" --foreground >/dev/null 2>&1 &
for _ in $(seq 300); do [ -S "$SV_HOME/svd.sock" ] && break; sleep 0.1; done
[ -S "$SV_HOME/svd.sock" ] || { echo "svd under valgrind did not start" >&2; exit 1; }
strip --strip-debug -o "$SV_HOME/sv-profiled" "$R/sv"
n=0
sv() {
  # Every sv command runs under callgrind too: its profile feeds sv.order.
  n=$((n + 1))
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$SV_HOME/sv.cg.$(printf %03d $n)" \
    "$SV_HOME/sv-profiled" "$@" >/dev/null 2>&1 || true
}
sv ping
sv start /bin/sleep --name s -- 10000
sv list; sv jlist; sv describe s
kill -9 "$("$R/sv" pid s)"; sleep 1
sv restart s; sv stop s; sv start s; sv signal SIGTERM s; sleep 0.5; sv reset s
sv start examples/hello/app.js; sleep 2; sv list
sv start "$R/testchild" --name crash -- print hi exit 1; sleep 2
sv start "$R/testchild" --name stubborn --kill-timeout 300 -- ignore 2 forever; sleep 0.5; sv stop stubborn
sv delete all; sv ping
sv kill; sleep 3
main="$(ls -S "$out".* | head -1)"
order() {
  grep -hE '^c?fn=\([0-9]+\) ' "$@" | sed -E "s/^c?fn=\([0-9]+\) //; s/'[0-9]+\$//" | grep -v '^0x' \
    | sed -E 's/@.*$//' | awk '!seen[$0]++'
}
# fn= and cfn= lines name each function on its first appearance: that order is the first-use
# order. callgrind marks recursion levels with 'N; addresses without a name are dropped.
order "$main" > Scripts/svd.order
# The commands most run first (list, ping), then the rest in the order they ran.
order "$SV_HOME"/sv.cg.* > Scripts/sv.order
echo "$(wc -l < Scripts/svd.order) symbols in Scripts/svd.order, $(wc -l < Scripts/sv.order) in Scripts/sv.order"
rm -rf "$SV_HOME"
