#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a program's manual page (section 1, gzipped as Debian wants it) from its own --help,
and for replicascope-cli each command's --help too, so the page cannot say other than the
program does.

usage: make_man.py PROGRAM OUTPUT.1.gz VERSION
"""
import gzip
import os
import re
import subprocess
import sys

SUMMARY = {
    "replicascope": "visual debugger for data-parallel training with synchronized BatchNorm",
    "replicascope-cli": "train, verify, record and diagnose data-parallel training with "
                        "synchronized BatchNorm",
}
SEE_ALSO = {"replicascope": "replicascope-cli", "replicascope-cli": "replicascope"}


def help_of(program, *args):
    # --help needs no display: the GUI answers it before it opens a window.
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([program, *args, "--help"], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    if done.returncode != 0:
        sys.exit(f"make_man: '{program} {' '.join(args)} --help' exited {done.returncode}: "
                 f"{done.stderr.strip()}")
    # The GUI's usage line names the path it was run from; the page names the program.
    return done.stdout.replace(program, os.path.basename(program))


def roff_text(text):
    """Help text as a preformatted roff block: backslashes and leading dots escaped."""
    lines = []
    for line in text.rstrip("\n").split("\n"):
        line = line.replace("\\", "\\e").replace("-", "\\-")
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return ".nf\n" + "\n".join(lines) + "\n.fi\n"


def commands_of(help_text):
    """The commands a `<command> [options]` program lists under 'commands:'."""
    listed = help_text.split("commands:", 1)
    if len(listed) < 2:
        return []
    return re.findall(r"^  ([a-z][a-z-]*)  ", listed[1], flags=re.MULTILINE)


def page(program, version):
    name = os.path.basename(program)
    main_help = help_of(program)
    out = [f'.TH {name.upper()} 1 "" "ReplicaScope {version}" "User Commands"\n',
           ".SH NAME\n", f"{name} \\- {SUMMARY.get(name, name)}\n",
           ".SH DESCRIPTION\n", roff_text(main_help)]
    commands = commands_of(main_help)
    if commands:
        out.append(".SH COMMANDS\n")
        for command in commands:
            out += [f".SS {command}\n", roff_text(help_of(program, command))]
    out += [".SH SEE ALSO\n", f".BR {SEE_ALSO.get(name, 'replicascope')} (1)\n",
            ".PP\nThe documentation in /usr/share/doc/replicascope and at the project's home page.\n"]
    return "".join(out)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    program, output, version = sys.argv[1:]
    text = page(program, version).encode()
    partial = output + ".partial"
    # mtime 0 and no name in the header: the same page for the same program, byte for byte.
    with open(partial, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as zipped:
        zipped.write(text)
    os.replace(partial, output)


if __name__ == "__main__":
    main()
