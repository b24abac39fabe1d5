#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer (binding.gyp honours
# LINX_MOUNT_SANITIZE=1; built through npx so npm's config, such as nodedir, applies) in a
# temporary copy of the package, so build/Release is never touched, and runs the privileged suite against that build: node-gyp-build's own override,
# LINX_MOUNT_PREBUILD=<dir>, points the loader (main thread and workers) at the copy.
# libasan must be the first library in the process, hence LD_PRELOAD; node itself is not
# instrumented and leaks at exit by design, hence detect_leaks=0. A sanitizer report aborts
# the process that hit it and is printed on stderr; the step fails if the suite fails or if
# the output holds any report. (No log_path: a child that nsenter(1)s into a target's mount
# namespace could not open the log file there.)
#
#   bash test/sanitize.sh                  # the privileged suite
#   bash test/sanitize.sh test/Mount.test.ts
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/linx-sanitize-XXXXXX)
# Readable by all: the privilege tests load this build in children that are not root.
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

cp -r package.json binding.gyp native "$work/"
ln -s "$root/node_modules" "$work/node_modules"
echo "==> building the addon with ASan + UBSan in $work"
(cd "$work" && LINX_MOUNT_SANITIZE=1 npx --no-install node-gyp rebuild --jobs=2 >"$work/build.log" 2>&1) ||
  { cat "$work/build.log"; exit 1; }
addon="$work/build/Release/linx_mount.node"
symbols=$(nm -D "$addon")
if ! grep -q '__asan_report' <<<"$symbols" || ! grep -q '__ubsan_handle' <<<"$symbols"; then
  echo "the sanitizer build is not instrumented (is LINX_MOUNT_SANITIZE honoured by binding.gyp?)" >&2
  exit 1
fi
libasan=$(ldd "$addon" | awk '/libasan/ { print $3 }')
[ -n "$libasan" ] || { echo "cannot find the libasan the addon links" >&2; exit 1; }

# nsenter(1) in the tests runs programs inside a target's namespaces, where /proc may belong to
# another PID namespace: libasan cannot start there (it reads /proc/self/maps), so programs
# run through nsenter do without the preload. They are not ours; only node loads the addon.
mkdir -p "$work/bin"
cat >"$work/bin/nsenter" <<SHIM
#!/bin/sh
unset LD_PRELOAD
exec $(command -v nsenter) "\$@"
SHIM
chmod +x "$work/bin/nsenter"

loaded=$(LINX_MOUNT_PREBUILD="$work" node -p 'require("node-gyp-build").resolve(process.cwd())')
[ "$loaded" = "$addon" ] || { echo "the loader would pick $loaded, not $addon" >&2; exit 1; }

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(test/Mount.test.ts test/Mounter.test.ts test/safety.test.ts test/batch.test.ts test/scoped.test.ts test/attributes.test.ts test/protocol.test.ts test/hostile.test.ts test/faults.test.ts test/fuzz.test.ts test/leaks.test.ts test/privilege.test.ts test/promises.test.ts test/watch.test.ts test/tables.test.ts test/list.test.ts)
fi
echo "==> running ${files[*]} against it"
status=0
PATH="$work/bin:$PATH" LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:symbolize=1" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  LINX_MOUNT_PREBUILD="$work" \
  node test/run.mjs "${files[@]}" 2>&1 | tee "$work/output.log" || status=$?

if grep -E -q 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$work/output.log"; then
  echo "==> sanitizer reports found:" >&2
  grep -E -A20 'ERROR: AddressSanitizer|runtime error:|SUMMARY: ' "$work/output.log" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "==> the suite failed under the sanitizers (exit $status)" >&2
  exit "$status"
fi
echo "==> no sanitizer report"
