#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks (or with --fix, writes) the SPDX-License-Identifier line of every source file.

The license of a file follows its folder, as LICENSE says: GPL-3.0-or-later for ui/, app/,
tests/ui/ and bench/bench_gui.cpp (they link QCustomPlot, GPL-3.0), MIT for everything else.
The line is a comment in the file's own syntax, first in the file (after a #! line).
Exit 0 when every file has its line, 1 with a line per file that lacks it (or names another
license), 2 for bad arguments.
"""
import argparse
import os
import subprocess
import sys

GPL = "GPL-3.0-or-later"
MIT = "MIT"
GPL_PATHS = ("ui/", "app/", "tests/ui/", "bench/bench_gui.cpp")
COMMENTS = {".cpp": "//", ".h": "//", ".cc": "//", ".py": "#", ".sh": "#", ".cmake": "#",
            "CMakeLists.txt": "#"}
SKIPPED = ("tests/data/", "tests/fuzz/", "LICENSES/")


def license_of(path):
    return GPL if path.startswith(GPL_PATHS) else MIT


def comment_of(path):
    name = os.path.basename(path)
    return COMMENTS.get(name) or COMMENTS.get(os.path.splitext(name)[1])


def source_files(root):
    """The tracked and untracked (not ignored) files git knows, that take a comment."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=root, capture_output=True, text=True, check=True).stdout
    for path in sorted(set(listed.split())):
        if path.startswith(SKIPPED) or not comment_of(path):
            continue
        if os.path.isfile(os.path.join(root, path)):
            yield path


def expected_line(path):
    return f"{comment_of(path)} SPDX-License-Identifier: {license_of(path)}\n"


def checked(root, path, fix):
    """None when the file has its line (or now has it, with fix); else what is wrong."""
    full = os.path.join(root, path)
    with open(full, encoding="utf-8") as f:
        lines = f.readlines()
    at = 1 if lines and lines[0].startswith("#!") else 0
    want = expected_line(path)
    if len(lines) > at and lines[at] == want:
        return None
    if len(lines) > at and lines[at].startswith(f"{comment_of(path)} SPDX-License-Identifier:"):
        if not fix:
            return f"{path}: line {at + 1} is {lines[at].strip()!r}; expected {want.strip()!r}"
        lines[at] = want
    elif not fix:
        return f"{path}: no SPDX line; expected {want.strip()!r} as line {at + 1}"
    else:
        lines.insert(at, want)
    with open(full, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    parser.add_argument("--fix", action="store_true", help="write the missing lines")
    args = parser.parse_args()
    problems = [p for p in (checked(args.root, path, args.fix) for path in
                            source_files(args.root)) if p]
    for problem in problems:
        print(f"spdx: {problem}")
    if problems:
        print(f"spdx: {len(problems)} file(s) without their SPDX line; scripts/spdx.py --fix "
              "writes them", file=sys.stderr)
        return 1
    print("spdx: every source file names its license")
    return 0


if __name__ == "__main__":
    sys.exit(main())
