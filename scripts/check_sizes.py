#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Refuses source files over 400 lines and C++ functions over 60 lines, outside tests.

A file's size is its line count (C++ under core/ ui/ app/ bench/ fuzz/, Python under python/
scripts/ bench/; tests and their fixtures are exempt). A C++ function is a definition that opens
at the start of a line (Google style does not indent namespaces) and ends at the next line that
is a lone `}` or `};` at the start of a line; its size counts both lines and those between. Class
bodies, namespaces, enums and initializer tables are not functions.

Exit 0 with one line when all keep to the limits; 1 with a line for each that does not.
"""
import argparse
import os
import re
import sys

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
CPP_FOLDERS = ("core", "ui", "app", "bench", "fuzz")
PY_FOLDERS = ("python", "scripts", "bench")
EXEMPT_PARTS = ("tests",)
NOT_A_FUNCTION = re.compile(
    r"^(namespace|class|struct|enum|union|extern|template\s*<[^>]*>\s*(class|struct)|"
    r"(static\s+|inline\s+)?(constexpr\s+|const\s+)+[\w:<>, ]+\s+\w+(\[\])?\s*=|"
    r"[\w:<>, ]+\s+\w+(\[\])?\s*=\s*\{)")


def source_files(root, folders, endings):
    for top in folders:
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = [d for d in dirs if d not in EXEMPT_PARTS and not d.startswith(".")]
            for name in sorted(files):
                if name.endswith(endings):
                    yield os.path.relpath(os.path.join(folder, name), root)


def long_functions(lines):
    """(name, first line, length) for each definition over the limit."""
    found = []
    start = None
    for number, line in enumerate(lines, 1):
        if start is None:
            if not line.rstrip().endswith("{") or line.lstrip().startswith(("//", "#")):
                continue
            # A signature may span lines: its first is the last unindented line above.
            first = number
            while first > 1 and lines[first - 1][:1] in (" ", "\t") and \
                    lines[first - 2].strip() and \
                    not lines[first - 2].rstrip().endswith((";", "}", "{")):
                first -= 1
            head = lines[first - 1]
            if head[:1] not in (" ", "\t", "#", "/", "}", "") and not NOT_A_FUNCTION.match(head):
                start = first
        elif re.match(r"^\};?\s*(//.*)?$", line):
            length = number - start + 1
            if length > MAX_FUNCTION_LINES:
                head = lines[start - 1].strip()
                name = re.search(r"([\w:~]+)\s*\(", head)
                found.append((name.group(1) if name else head[:40], start, length))
            start = None
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    args = parser.parse_args()
    problems = []
    cpp = list(source_files(args.root, CPP_FOLDERS, (".h", ".cpp", ".inc")))
    py = list(source_files(args.root, PY_FOLDERS, (".py",)))
    for path in cpp + py:
        with open(os.path.join(args.root, path), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        if len(lines) > MAX_FILE_LINES:
            problems.append(f"{path}: {len(lines)} lines (at most {MAX_FILE_LINES})")
        if path.endswith((".h", ".cpp", ".inc")):
            for name, first, length in long_functions(lines):
                problems.append(f"{path}:{first}: {name} is {length} lines "
                                f"(at most {MAX_FUNCTION_LINES})")
    for problem in problems:
        print(f"check_sizes: {problem}", file=sys.stderr)
    if problems:
        print(f"check_sizes: {len(problems)} file(s) or function(s) over the limits "
              "(CONTRIBUTING.md, Style)", file=sys.stderr)
        return 1
    print(f"check_sizes: {len(cpp) + len(py)} files under {MAX_FILE_LINES} lines, their C++ "
          f"functions under {MAX_FUNCTION_LINES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
