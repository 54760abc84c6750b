#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Refuses an #include in core/ that climbs a layer.

The layers and what each may use are the table between the `layers` markers in CONTRIBUTING.md,
written once there. A layer may use the layers its row names and, through them, everything
below those. Every core file sits in a layer's folder: core/src/LAYER/ or
core/include/replicascope/LAYER/ (core/src/pch.h and the public face replicascope.h excepted).
An include is found by its path: "replicascope/LAYER/x.h", or a private header "x.h" or
"../LAYER/x.h" relative to the including file. Angle-bracket includes are other libraries'.

Exit 0 with one line when every include keeps to the table; 1 with a line per climb;
2 when the table cannot be read.
"""
import argparse
import os
import re
import sys

EXEMPT = {"core/src/pch.h", "core/include/replicascope/replicascope.h"}
SOURCE_ENDINGS = (".h", ".cpp", ".inc")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_table(contributing):
    """{layer: set of the layers it names} from the table between the layers markers."""
    with open(contributing, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"<!-- layers -->(.*?)<!-- /layers -->", text, re.S)
    if not match:
        raise ValueError(f"{contributing}: no table between <!-- layers --> and <!-- /layers -->")
    uses = {}
    for line in match.group(1).splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not re.fullmatch(r"[a-z_]+", cells[0]) or cells[0] == "layer":
            continue
        named = [n.strip().strip("`") for n in cells[1].split(",")]
        uses[cells[0]] = {n for n in named if n and n != "(none)"}
    for layer, named in uses.items():
        unknown = named - uses.keys()
        if unknown:
            raise ValueError(f"{contributing}: layer {layer} uses {', '.join(sorted(unknown))}, "
                             "which the table does not list")
    return uses


def below(uses):
    """{layer: every layer it may use}, the closure of the table's rows."""
    allowed = {}

    def visit(layer, path):
        if layer in path:
            raise ValueError("the layer table has a cycle: " + " -> ".join(path + [layer]))
        if layer not in allowed:
            reach = set()
            for used in uses[layer]:
                reach |= {used} | visit(used, path + [layer])
            allowed[layer] = reach
        return allowed[layer]

    for layer in uses:
        visit(layer, [])
    return allowed


def layer_of(path):
    """The layer folder a core path sits in, or None (loose)."""
    parts = path.split("/")
    if parts[:3] == ["core", "include", "replicascope"] and len(parts) > 4:
        return parts[3]
    if parts[:2] == ["core", "src"] and len(parts) > 3:
        return parts[2]
    return None


def included_layer(including, name):
    """The layer of the core file `name` that `including` includes, or None if not core's."""
    if name.startswith("replicascope/"):
        return layer_of("core/include/" + name) or "(loose)"
    resolved = os.path.normpath(os.path.join(os.path.dirname(including), name))
    return layer_of(resolved.replace(os.sep, "/"))


def core_files(root):
    for top in ("core/src", "core/include"):
        for folder, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if name.endswith(SOURCE_ENDINGS):
                    yield os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")


def check(root, uses):
    allowed = below(uses)
    problems = []
    for path in core_files(root):
        if path in EXEMPT:
            continue
        layer = layer_of(path)
        if layer not in uses:
            problems.append(f"{path}: not in a layer's folder (expected core/src/LAYER/ or "
                            f"core/include/replicascope/LAYER/, LAYER one of "
                            f"{', '.join(sorted(uses))})")
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                target = included_layer(path, match.group(1))
                if target is None or target == layer or target in allowed[layer]:
                    continue
                may = ", ".join(sorted(allowed[layer])) or "no other layer"
                problems.append(f"{path}:{number}: includes \"{match.group(1)}\" of layer "
                                f"{target}; {layer} may use {may}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."),
                        help="the source tree (default: this script's)")
    args = parser.parse_args()
    contributing = os.path.join(args.root, "CONTRIBUTING.md")
    try:
        uses = read_table(contributing)
        problems = check(args.root, uses)
    except (OSError, ValueError) as error:
        print(f"check_layers: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"check_layers: {problem}", file=sys.stderr)
    if problems:
        print(f"check_layers: {len(problems)} include(s) break the layer table in "
              "CONTRIBUTING.md", file=sys.stderr)
        return 1
    print(f"check_layers: every core include keeps to the {len(uses)} layers of CONTRIBUTING.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
