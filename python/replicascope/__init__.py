# SPDX-License-Identifier: MIT
"""ReplicaScope for PyTorch users: record a real training's BatchNorm statistics into a run file
that the ReplicaScope debugger and `replicascope-cli export` open, and read runs back.

    from replicascope import Recorder, open_run
"""
from .reader import Run, open_run
from .recorder import Recorder, RecorderError, __version__
from .runfile import RunFileError

__all__ = ["Recorder", "RecorderError", "Run", "RunFileError", "open_run", "__version__"]
