# SPDX-License-Identifier: MIT
"""Which other process holds a run's write lock, for the message of a step that waited in vain.

SQLite locks with POSIX advisory locks: in WAL mode the writer holds byte 120 of the -shm file,
in rollback mode the database file's reserved and pending bytes. Linux lists every such lock in
/proc/locks with the holder's pid and the file's device and inode.
"""
import os


def _file_id(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return os.major(info.st_dev), os.minor(info.st_dev), info.st_ino


def _writers(files, listing):
    """Pids other than ours that hold a WRITE lock on one of `files` ((major, minor, inode))."""
    pids = []
    for line in listing.splitlines():
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        try:
            at = fields.index("ADVISORY")
            access, pid = fields[at + 1], int(fields[at + 2])
            major, minor, inode = fields[at + 3].split(":")
            file_id = (int(major, 16), int(minor, 16), int(inode))
        except (ValueError, IndexError):
            continue
        if access == "WRITE" and pid > 0 and pid != os.getpid() and file_id in files:
            if pid not in pids:
                pids.append(pid)
    return pids


def _named(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f"pid {pid}, {f.read().strip()}"
    except OSError:
        return f"pid {pid}"


def holder(path):
    """'pid 1234, python3' for the process that holds `path`'s write lock; None when it cannot
    be known (not Linux, another PID namespace, or no longer held)."""
    files = {i for i in (_file_id(path), _file_id(path + "-shm")) if i is not None}
    try:
        with open("/proc/locks") as f:
            listing = f.read()
    except OSError:
        return None
    pids = _writers(files, listing)
    return "; ".join(_named(pid) for pid in pids) or None
