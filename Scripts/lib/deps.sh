# Installs the system packages sv builds and tests with, when missing (sourced by Scripts/*).
# apt is retried once: a fresh machine's first apt-get update sometimes fails.

sv_apt() {
  local runner=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then runner=(sudo); else
      echo "sv: need root (or sudo) to install: $*" >&2; return 1
    fi
  fi
  local attempt
  for attempt in 1 2; do
    if "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
       "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; then
      return 0
    fi
    echo "sv: apt-get failed (attempt $attempt), retrying once" >&2
    sleep 3
  done
  echo "sv: could not install: $* (check apt sources and network)" >&2
  return 1
}

# sv_need_packages PKG...: installs the ones dpkg does not have.
sv_need_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if ((${#missing[@]})); then
    echo "sv: installing ${missing[*]}" >&2
    sv_apt "${missing[@]}"
  fi
}

sv_need_swift() {
  command -v swift >/dev/null 2>&1 || {
    echo "sv: swift is not in PATH (install Swift 6 for Linux first)" >&2
    return 1
  }
}

# Release builds link libstdc++ statically (the Swift runtime is C++): loading and relocating
# libstdc++.so took ~40 % of `sv list`'s instructions (callgrind). swiftc always passes -lstdc++,
# so a linker script named libstdc++.so in .build-link (searched first: Package.swift) points it
# at the archive. Without the script, the release link falls back to the shared library.
sv_prepare_static_link() {
  local archive
  archive="$(g++ -print-file-name=libstdc++.a 2>/dev/null || true)"
  mkdir -p .build-link
  if [ -n "$archive" ] && [ -f "$archive" ]; then
    echo "INPUT($archive)" > ".build-link/libstdc++.so"
  else
    rm -f ".build-link/libstdc++.so"
    echo "sv: no libstdc++.a (install g++): linking libstdc++ dynamically" >&2
  fi
}
