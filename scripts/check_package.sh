#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/check.sh's package phase: the Debian packages made from build/ as it is (cpack -G DEB;
# nothing is rebuilt that the build already has), then what a user of them meets:
#   - desktop-file-validate and `appstreamcli validate --no-net` pass; lintian finds no error
#     (its warnings are printed);
#   - as root, `apt-get install ./replicascope_*.deb` installs them (their dependencies are
#     there); otherwise, or with PACKAGE_UNPACKED=1 (a machine to leave as it is), the unpacked
#     packages (dpkg-deb -x) are checked in place;
#   - `replicascope --version` (offscreen) and `replicascope-cli --help` run from the installed
#     paths; the desktop entry, the hicolor icons, the metainfo and the MIME type are there;
#   - a run the installed CLI records is typed application/x-replicascope-run by its content
#     through the installed MIME database (a plain SQLite file is not), and that type opens
#     with the desktop entry;
#   - the packages remove cleanly.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
app_id=io.github.replicascope.ReplicaScope
run_type=application/x-replicascope-run

say() { echo "check: package: $*"; }
fail() {
  echo "check: package: $*" >&2
  exit 1
}

for tool in cpack dpkg-deb desktop-file-validate appstreamcli lintian update-mime-database \
  update-desktop-database xdg-mime mimetype; do
  command -v "$tool" >/dev/null ||
    fail "$tool not found (scripts/setup.sh installs desktop-file-utils appstream lintian" \
      "shared-mime-info xdg-utils libfile-mimeinfo-perl)"
done
[[ -x $build/app/replicascope ]] || fail "$build/app/replicascope is not built (Qt 6 missing?)"

# The packages, from what the build has.
rm -f "$build"/replicascope*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || {
  cat "$build/cpack.log"
  fail "cpack failed"
}
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
packages=("$build/replicascope_${version}_amd64.deb" "$build/replicascope-dev_${version}_amd64.deb")
for deb in "${packages[@]}"; do
  [[ -f $deb ]] || fail "cpack made no $deb (made: $(ls "$build"/*.deb 2>/dev/null))"
  say "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"
done
dpkg-deb -f "${packages[0]}" Depends | grep -q libqt6widgets6 ||
  fail "the package's Depends lacks Qt (dpkg-shlibdeps did not run?)"

desktop-file-validate "resources/$app_id.desktop" || fail "desktop-file-validate failed"
appstreamcli validate --no-net "resources/$app_id.metainfo.xml" >"$build/appstream.log" 2>&1 || {
  cat "$build/appstream.log"
  fail "appstreamcli validate failed"
}
# Errors fail; warnings and notes are shown (README's install section lists them).
lintian --fail-on error --tag-display-limit 0 "${packages[@]}" || fail "lintian found errors"

work=$(mktemp -d)
installed=false
clean_up() {
  if $installed; then
    apt-get remove -y -qq --purge replicascope replicascope-dev >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap clean_up EXIT

if [[ $(id -u) -eq 0 && -z ${PACKAGE_UNPACKED:-} ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "$(realpath "${packages[0]}")" "$(realpath "${packages[1]}")" >"$work/apt.log" 2>&1 || {
    cat "$work/apt.log"
    fail "apt-get install of the packages failed"
  }
  installed=true
  root=
  say "installed with apt-get"
else
  say "$([[ $(id -u) -eq 0 ]] && echo PACKAGE_UNPACKED || echo 'not root'): checking the" \
    "unpacked packages instead of installing them"
  for deb in "${packages[@]}"; do dpkg-deb -x "$deb" "$work/root"; done
  root=$work/root
  # What the packages' triggers do on installation, here for the unpacked tree alone.
  export XDG_DATA_HOME=$root/usr/share
  update-mime-database "$root/usr/share/mime"
  update-desktop-database "$root/usr/share/applications"
fi
share=$root/usr/share

for file in "$share/applications/$app_id.desktop" "$share/metainfo/$app_id.metainfo.xml" \
  "$share/mime/packages/$app_id.xml" "$share/icons/hicolor/scalable/apps/$app_id.svg" \
  "$share/icons/hicolor/48x48/apps/$app_id.png" "$share/doc/replicascope/copyright" \
  "$root/usr/include/replicascope/replicascope.h" "$share/man/man1/replicascope.1.gz" \
  "$share/man/man1/replicascope-cli.1.gz"; do
  [[ -f $file ]] || fail "the packages do not install $file"
done
QT_QPA_PLATFORM=offscreen "$root/usr/bin/replicascope" --version || fail "replicascope --version failed"
"$root/usr/bin/replicascope-cli" --help >/dev/null || fail "replicascope-cli --help failed"
# The manual pages render and say what --help says (they are made from it).
zcat "$share/man/man1/replicascope-cli.1.gz" | MANWIDTH=100 man -l - 2>/dev/null |
  grep -q "diagnose" || fail "the manual page of replicascope-cli does not render its commands"

# The run file's type, by content: a run the installed CLI records, and a plain SQLite database
# of the same extension.
"$root/usr/bin/replicascope-cli" train --steps 1 --data synthetic --devices cpu:1 --batch 4 \
  --run "$work/run.sqlite" >"$work/train.log" 2>&1 || {
  cat "$work/train.log"
  fail "replicascope-cli train --run failed"
}
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("CREATE TABLE t(x)")' \
  "$work/plain.sqlite"
for pair in "run.sqlite:$run_type" "plain.sqlite:application/vnd.sqlite3"; do
  found=$(xdg-mime query filetype "$work/${pair%%:*}")
  [[ $found == "${pair#*:}" ]] || fail "${pair%%:*} is typed '$found', expected '${pair#*:}'"
done
opener=$(xdg-mime query default "$run_type")
[[ $opener == "$app_id.desktop" ]] || fail "$run_type opens with '$opener', expected $app_id.desktop"
say "run files are $run_type by content, opened by $opener"

if $installed; then
  apt-get remove -y -qq --purge replicascope replicascope-dev >"$work/apt.log" 2>&1 || {
    cat "$work/apt.log"
    fail "apt-get remove failed"
  }
  installed=false
  for file in /usr/bin/replicascope "/usr/share/applications/$app_id.desktop" \
    "/usr/share/mime/packages/$app_id.xml" /usr/include/replicascope; do
    [[ ! -e $file ]] || fail "$file is left after the packages were removed"
  done
  [[ $(xdg-mime query filetype "$work/run.sqlite") == application/vnd.sqlite3 ]] ||
    fail "the run's type is still known after the packages were removed"
  say "removed cleanly"
fi
