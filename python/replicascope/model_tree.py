# SPDX-License-Identifier: MIT
"""What a run keeps of its model: the module tree and the ranks x copies wiring.

The rows match the C++ writer's: one module per row in module order (`named_modules`, the root
"" first), its readable type ("BatchNorm2d"), depth and parameter counts; one wiring column per
copy of every rank, one row per module index. The Python recorder does not observe replication
callbacks, so no wiring row expects them (a row that did would show as missing a call).
"""
import torch

from .runfile import text

try:  # the class every PyTorch BatchNorm derives from, SyncBatchNorm included
    from torch.nn.modules.batchnorm import _BatchNorm
except ImportError:  # pragma: no cover - every supported PyTorch has it
    _BatchNorm = torch.nn.BatchNorm2d.__mro__[1]


def is_batch_norm(module):
    """PyTorch's BatchNorm1d/2d/3d, SyncBatchNorm, and Synchronized-BatchNorm-PyTorch's layers."""
    return isinstance(module, _BatchNorm)


def is_synchronized(module):
    """Whether the layer's statistics are reduced over copies or ranks by the layer itself."""
    if isinstance(module, torch.nn.SyncBatchNorm):
        return True
    # Synchronized-BatchNorm-PyTorch: _SynchronizedBatchNorm and its 1d/2d/3d subclasses.
    return any(cls.__name__ == "_SynchronizedBatchNorm" for cls in type(module).__mro__)


def scripted_part(model):
    """(name, module) of the model itself when it is scripted or traced (torch.jit), else of its
    first such module that holds a BatchNorm; None when there is none. The recorder hooks eager
    modules only: a scripted module runs its layers as TorchScript, past their hooks."""
    for name, module in model.named_modules():
        if isinstance(module, torch.jit.ScriptModule) and (not name or any(
                "BatchNorm" in str(getattr(m, "original_name", "")) for m in module.modules())):
            return name, module
    return None


def full_type(module):
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


def unwrap(model):
    """(the user's module, the wrapper's name, the DataParallel device ids or None)."""
    parallel = torch.nn.parallel
    if isinstance(model, parallel.DistributedDataParallel):
        return model.module, "DistributedDataParallel", None
    if isinstance(model, parallel.DataParallel):  # also DataParallelWithCallback
        ids = list(model.device_ids or [])
        return model.module, type(model).__name__, ids if len(ids) > 1 else None
    return model, "", None


def local_devices(model, dp_ids):
    """This rank's devices: DataParallel's, else where the model's first tensor is."""
    if dp_ids:
        return [str(torch.device("cuda", i)) for i in dp_ids]
    for tensor in list(model.parameters()) + list(model.buffers()):
        return [str(tensor.device)]
    return ["cpu"]


def modules_rows(model):
    """The modules table's rows: (name, type, full_type, depth, own, subtree, sync, callbacks)."""
    rows = []
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        subtree = sum(p.numel() for p in module.parameters())
        rows.append((name, type(module).__name__, full_type(module),
                     0 if not name else name.count(".") + 1, own, subtree,
                     int(is_batch_norm(module) and is_synchronized(module)),
                     int(hasattr(module, "__data_parallel_replicate__") or
                         hasattr(module, "data_parallel_replicate"))))
    return rows


def write_model(db, model, devices_per_rank):
    """Fills the modules and wiring tables; `devices_per_rank`: every rank's device names."""
    rows = [(text(name), text(type_name), text(full), *counts)
            for name, type_name, full, *counts in modules_rows(model)]
    db.executemany("INSERT INTO modules VALUES(?,?,?,?,?,?,?,?,?)",
                   [(i,) + row for i, row in enumerate(rows)])
    column = 0
    for rank, devices in enumerate(devices_per_rank):
        for copy, device in enumerate(devices):
            db.execute("INSERT INTO wiring_columns VALUES(?,?,?,?)",
                       (column, text(device), rank, copy))
            column += 1
    for context, (name, type_name, *_rest) in enumerate(rows):
        db.execute("INSERT INTO wiring_rows VALUES(?,?,?,?)", (context, name, type_name, 0))
        db.executemany("INSERT INTO wiring_cells VALUES(?,?,?,?,?)",
                       [(context, c, 1, 0, -1) for c in range(column)])


def format_devices(devices):
    """The C++ format_devices: "cpu", "cpu:4", "cuda:0,1", else the names joined by commas."""
    if devices and all(d == "cpu" for d in devices):
        return "cpu" if len(devices) == 1 else f"cpu:{len(devices)}"
    if devices and all(d.startswith("cuda:") for d in devices):
        return "cuda:" + ",".join(d[len("cuda:"):] for d in devices)
    return ",".join(devices)
