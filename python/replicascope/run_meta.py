# SPDX-License-Identifier: MIT
"""The meta rows the recorder writes at the start of a run (docs/run-format.md, `meta`)."""
import datetime
import sqlite3

import torch

from . import model_tree, runfile


def recorder_meta(model, layers, world, wrapper, devices, settings, version, *, detail_steps,
                  detail_every, hang_timeout):
    """The recorder's own rows, then `settings` (arguments.run_settings) under them; layers:
    the BatchNorm modules."""
    meta = dict(settings)
    meta.update({
        "model": settings["model"] or type(model).__name__,
        "model_hash": "",
        "devices": model_tree.format_devices(devices),
        "dataset": settings["dataset"] or "python",
        "synchronized": "true" if all(model_tree.is_synchronized(m) for m in layers) else "false",
        "processes": str(world),
        "libtorch": torch.__version__,
        "writer": f"replicascope-python {version}",
        "wrapper": wrapper or "none",
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "schema_version": str(runfile.SCHEMA_VERSION),
        "sqlite": sqlite3.sqlite_version,
        "detail_steps": {runfile.AUTO: "auto", runfile.ALL: "all"}.get(
            detail_steps, str(detail_steps)),
        "detail_every": str(detail_every),
        # The hang explainer's timeout (version 6): a run with it records sync-point events.
        "hang_timeout": "off" if hang_timeout is None else f"{hang_timeout:g}",
    })
    return meta
