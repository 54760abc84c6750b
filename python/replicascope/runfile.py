# SPDX-License-Identifier: MIT
"""The run file, as the C++ writer makes it (core/src/store/run_writer.cpp; docs/run-format.md).

One SQLite file per run in WAL mode, one transaction per step, so that a killed training keeps
every step it finished. The schema text is the C++ writer's, byte for byte (a test compares
the two files' `sqlite_master`), so both writers' runs are the same kind of file.
"""
import codecs
import ctypes
import ctypes.util
import errno
import itertools
import math
import os
import sqlite3
import struct
import sys

from . import locks
# Which steps keep per-channel detail: runfile's names, as the recorder and the tests use them.
from .detail_policy import (ALL, AUTO, DetailPolicy, auto_detail_steps,  # noqa: F401
                            parse_detail_steps, stored_row_bytes)

SCHEMA_VERSION = 6

# SQLite's application_id of a run file (the big-endian 32-bit field at offset 68 of its header):
# "RSRN" in ASCII, as the C++ writer's kRunApplicationId. Readers do not require it (runs written
# before it have 0 there).
APPLICATION_ID = 0x5253524E

# The tables a run of each schema version has (docs/run-format.md), in the order messages name
# them.
_TABLES_1 = ("meta", "steps", "layers", "sync_points", "channel_stats")
_TABLES_2 = _TABLES_1 + ("modules", "wiring_columns", "wiring_rows", "wiring_cells")
_TABLES_4 = _TABLES_2 + ("summaries",)
TABLES = {1: _TABLES_1, 2: _TABLES_2, 3: _TABLES_2, 4: _TABLES_4, 5: _TABLES_4,
          6: _TABLES_4 + ("layer_settings", "eval_calls", "events")}

# The meta keys the writers write (version 5's contract): a user's own metadata may not use
# them, nor any key starting with RESERVED_META_PREFIX (kept for later versions).
RESERVED_META_KEYS = (
    "schema_version", "detail_steps", "detail_every", "detail_capacity", "sqlite", "created",
    "model", "model_hash", "devices", "processes", "dataset", "batch", "synchronized",
    "optimizer", "lr", "weight_decay", "loss", "seed", "libtorch", "writer", "wrapper", "wiring",
    "model_output")
RESERVED_META_PREFIX = "replicascope."

# How long a step waits for a write lock another process holds before it fails (docs).
BUSY_TIMEOUT_SECONDS = 10.0

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE steps(step INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, loss REAL, accuracy REAL,
                   seconds REAL NOT NULL, nonfinite TEXT, detail INTEGER NOT NULL);
CREATE TABLE layers(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE sync_points(step INTEGER NOT NULL, layer INTEGER NOT NULL, sync_point INTEGER NOT NULL,
                         count INTEGER NOT NULL, divergence REAL, worst_channel INTEGER NOT NULL,
                         PRIMARY KEY(step, layer, sync_point)) WITHOUT ROWID;
CREATE TABLE summaries(step INTEGER NOT NULL, layer INTEGER NOT NULL, sync_point INTEGER NOT NULL,
                       copies BLOB NOT NULL, PRIMARY KEY(step, layer, sync_point)) WITHOUT ROWID;
CREATE INDEX summaries_by_layer ON summaries(layer, sync_point, step);
CREATE TABLE channel_stats(step INTEGER NOT NULL, layer INTEGER NOT NULL,
                           sync_point INTEGER NOT NULL, copy INTEGER NOT NULL,
                           count INTEGER NOT NULL, mean BLOB NOT NULL, var BLOB NOT NULL,
                           UNIQUE(step, layer, sync_point, copy));
CREATE TABLE modules(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                     full_type TEXT NOT NULL, depth INTEGER NOT NULL,
                     own_parameters INTEGER NOT NULL, subtree_parameters INTEGER NOT NULL,
                     synchronized INTEGER NOT NULL, receives_callbacks INTEGER NOT NULL);
CREATE TABLE wiring_columns(id INTEGER PRIMARY KEY, device TEXT NOT NULL, rank INTEGER NOT NULL,
                            copy INTEGER NOT NULL);
CREATE TABLE wiring_rows(context_id INTEGER PRIMARY KEY, module TEXT NOT NULL, type TEXT NOT NULL,
                         expects_callbacks INTEGER NOT NULL);
CREATE TABLE wiring_cells(context_id INTEGER NOT NULL, column_id INTEGER NOT NULL,
                          present INTEGER NOT NULL, called INTEGER NOT NULL,
                          call_order INTEGER NOT NULL,
                          PRIMARY KEY(context_id, column_id)) WITHOUT ROWID;
CREATE TABLE layer_settings(layer INTEGER PRIMARY KEY, momentum REAL, eps REAL NOT NULL);
CREATE TABLE eval_calls(step INTEGER NOT NULL, module TEXT NOT NULL, calls INTEGER NOT NULL,
                        PRIMARY KEY(step, module)) WITHOUT ROWID;
CREATE TABLE events(step INTEGER NOT NULL, kind TEXT NOT NULL, layer TEXT, sync_point INTEGER,
                    copy INTEGER, message TEXT NOT NULL);
CREATE TABLE deviations(step INTEGER NOT NULL, layer INTEGER NOT NULL, copies BLOB NOT NULL,
                        u BLOB NOT NULL);
"""

# The copy column's coding: copies 0, 1, ... (of rank 0); the synchronized statistics -1; the
# running ones -2; rank r's over its copies -3 - r.
SYNCHRONIZED = -1
RUNNING = -2


def rank_key(rank):
    return -3 - rank


# Rank r's running statistics (r >= 1; version 6): far below the ranks' codes, as the C++
# reader's kRankRunningBase.
RANK_RUNNING_BASE = -(1 << 24)


def rank_running_key(rank):
    return RANK_RUNNING_BASE - rank


def key_label(copy):
    """The C++ SeriesKey::label() of a stored copy id: "copy 2", "synchronized", "rank 1"."""
    if copy >= 0:
        return f"copy {copy}"
    if copy == SYNCHRONIZED:
        return "synchronized"
    if copy == RUNNING:
        return "running"
    if copy < RANK_RUNNING_BASE:
        return f"running, rank {RANK_RUNNING_BASE - copy}"
    return f"rank {-3 - copy}"


class RunFileError(RuntimeError):
    """A run file that cannot be created, written or read; the message names the file."""


def _bytes_of_surrogates(error):
    """Encoding errors of a str from the file system (os.fsdecode): each surrogate U+DC80 to
    U+DCFF back to the byte it stands for, any other lone surrogate to its own (invalid) bytes."""
    chars = error.object[error.start:error.end]
    return b"".join(bytes([ord(c) - 0xDC00]) if "\udc80" <= c <= "\udcff"
                    else c.encode("utf-8", "surrogatepass") for c in chars), error.end


codecs.register_error("replicascope.surrogates", _bytes_of_surrogates)


def text(value):
    """`value` as the valid UTF-8 text a run stores (version 5): each byte that is not part of
    a valid UTF-8 sequence becomes the four characters \\xHH."""
    return decode_text(str(value).encode("utf-8", "replicascope.surrogates"))


def decode_text(data):
    """Stored text as a str, however old the run: invalid bytes read as \\xHH, never an error."""
    return data.decode("utf-8", "backslashreplace")


def single(copy, version=SCHEMA_VERSION):
    """Version 4 keeps every channel vector in float32 but the synchronized statistics."""
    return version >= 4 and copy != SYNCHRONIZED


def blob(values, copy):
    """A channel vector (a list of floats) as the C++ writer keeps it: little-endian float32s
    (float64s for the synchronized statistics)."""
    return struct.pack(f"<{len(values)}{'f' if single(copy) else 'd'}", *values)


# A deviations row (version 6): `copies`, the series' codes (int32 little-endian each), and `u`,
# their values series after series, one int8 per channel: u in steps of 1/64, rounded half away
# from 0 and clamped to +-127/64, -128 where u is not finite (the C++ writer's DeviationRow).
DEVIATION_STEP = 1 / 64


def _deviation_code(v):
    if not math.isfinite(v):
        return -128
    steps = abs(v) / DEVIATION_STEP
    rounded = math.floor(steps)
    rounded += steps - rounded >= 0.5  # half away from 0, exactly as std::round
    return int(max(-127.0, min(127.0, math.copysign(rounded, v))))


def deviation_row(series):
    """(copies, u) BLOBs of [(copy code, u as a list of floats)], every u of one length."""
    codes = [_deviation_code(v) for _, u in series for v in u]
    return (struct.pack(f"<{len(series)}i", *[copy for copy, _ in series]),
            struct.pack(f"<{len(codes)}b", *codes))


def deviations_of_row(copies, u):
    """[(copy code, [u per channel])] of a row; None when the BLOBs do not fit each other."""
    count = len(copies) // 4
    if len(copies) % 4 or (len(u) % count if count else len(u)):
        return None
    channels = len(u) // count if count else 0
    values = [math.nan if code == -128 else code * DEVIATION_STEP
              for code in struct.unpack(f"<{len(u)}b", u)]
    return [(copy, values[i * channels:(i + 1) * channels])
            for i, copy in enumerate(struct.unpack(f"<{count}i", copies))]


def unblob(data, copy, version=SCHEMA_VERSION):
    width = "f" if single(copy, version) else "d"
    return struct.unpack(f"<{len(data) // struct.calcsize(width)}{width}", data)


_SUMMARY = struct.Struct("<iiff")


def summaries_blob(rows):
    """One sync point's summaries: per (copy, count, mean over channels of the mean, of the
    variance), 16 bytes little-endian: int32 copy, int32 count (-1 above 2^31 - 1), float32,
    float32."""
    return b"".join(_SUMMARY.pack(copy, count if count <= 2**31 - 1 else -1, mean, var)
                    for copy, count, mean, var in rows)


def summaries_of_blob(data):
    return [_SUMMARY.unpack_from(data, at) for at in range(0, len(data), _SUMMARY.size)]


def real(value):
    """A float for SQLite, None for NaN (SQLite keeps NaN as NULL; None says so explicitly)."""
    value = float(value)
    return None if math.isnan(value) else value


_counter = itertools.count()


def _rename_noreplace(source, target):
    """renameat2(RENAME_NOREPLACE) through libc; None where the system has no such call."""
    libc_name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or not libc_name:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return None
    at_fdcwd, rename_noreplace = -100, 1
    if libc.renameat2(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target),
                      rename_noreplace) == 0:
        return True
    error = ctypes.get_errno()
    if error == errno.EEXIST:
        return False
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return None
    raise RunFileError(f"run '{target}': cannot move the new run into place: "
                       f"{os.strerror(error)}")


def _move_into_place(source, target):
    """Moves `source` to `target` only if nothing is there (False when something is)."""
    moved = _rename_noreplace(source, target)
    if moved is not None:
        return moved
    try:
        os.link(source, target)  # atomic, and fails where `target` exists
    except FileExistsError:
        return False
    except OSError as error:
        raise RunFileError(f"run '{target}': cannot link the new run into place: "
                           f"{error.strerror}") from None
    os.unlink(source)
    return True


def _remove_own(path, inode):
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            os.unlink(path + suffix)
        except OSError:
            pass


def create(path, fill):
    """Creates the run `path` as the C++ RunWriter does and returns an open connection.

    The schema, and what `fill(db)` adds in the same transaction (metadata, the model's tables),
    are built in a file of this process beside `path` (created with O_EXCL) and moved into place
    only if nothing is there by then: a run is never overwritten, also when another process
    creates the same path at the same moment, and a kill during creation leaves no stub.
    """
    if not path:
        raise RunFileError("run '': expected a file name to record to")
    if path == ":memory:" or str(path).startswith("file:"):
        # sqlite3 would take these for an in-memory database or a URI: nothing would be kept.
        kind = "an in-memory database" if path == ":memory:" else "a URI"
        raise RunFileError(f"run '{path}': a run is a file, and SQLite reads this name as {kind}; "
                           f"expected a file name (./{path} names a file so called)")
    if os.path.lexists(path):
        raise RunFileError(f"run '{path}': the file exists; runs are not overwritten")
    building = f"{path}.creating-{os.getpid()}-{next(_counter)}"
    try:
        fd = os.open(building, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as error:
        hint = (" (is the folder there and writable?)"
                if error.errno in (errno.ENOENT, errno.EACCES, errno.EROFS) else "")
        raise RunFileError(f"run '{path}': cannot create it: {error.strerror}{hint}") from None
    inode = os.fstat(fd).st_ino
    os.close(fd)
    try:
        db = sqlite3.connect(building, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN")
            for statement in SCHEMA.split(";"):  # not executescript, which commits first
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            fill(db)
            db.execute("COMMIT")
        finally:
            db.close()  # the last connection: SQLite folds the WAL into the file
        placed = _move_into_place(building, path)
    except sqlite3.Error as error:
        _remove_own(building, inode)
        raise RunFileError(f"run '{path}': cannot create it: {error}") from None
    except BaseException:
        _remove_own(building, inode)
        raise
    if not placed:
        _remove_own(building, inode)
        raise RunFileError(f"run '{path}': the file exists (another process created it first); "
                           "runs are not overwritten")
    db = None
    try:
        # A step waits a while for a write lock another process holds (a reader's checkpoint,
        # a tool writing to the file) before it fails.
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                             timeout=BUSY_TIMEOUT_SECONDS)
        db.execute("PRAGMA synchronous=NORMAL")  # safe against a killed process
    except sqlite3.Error as error:
        if db is not None:
            db.close()
        _remove_own(path, inode)
        raise RunFileError(f"run '{path}': cannot open it after creating it: {error}") from None
    return db


def _is_locked(error):
    # sqlite_errorcode (Python 3.11 on) is the extended code; its low byte SQLITE_BUSY is 5.
    return ((getattr(error, "sqlite_errorcode", None) or 0) & 0xFF == 5 or
            str(error).startswith("database is locked"))


def transaction(db, path, write):
    """Runs `write(db)` in one transaction and returns what it returned; a failure rolls it back
    and names the run."""
    try:
        db.execute("BEGIN IMMEDIATE")  # the write lock first: the busy timeout waits for it
        written = write(db)
        db.execute("COMMIT")
        return written
    except sqlite3.Error as error:
        if db.in_transaction:
            db.execute("ROLLBACK")
        if _is_locked(error):
            holder = locks.holder(path)
            waited = db.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
            raise RunFileError(
                f"run '{path}': cannot write a step: another process holds the run's write lock "
                f"({holder or 'which one could not be found out'}) and kept it longer than "
                f"{waited:g} s; expected the run to be written by its recorder alone") from None
        raise RunFileError(f"run '{path}': cannot write a step: {error}") from None
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def add_event(db, path, step, kind, layer, sync_point, copy, message):
    """One row of `events`, committed on its own (outside the steps' transactions)."""
    transaction(db, path, lambda d: d.execute("INSERT INTO events VALUES(?,?,?,?,?,?)", (
        step, text(kind), layer, sync_point, copy, text(message))))
