# SPDX-License-Identifier: MIT
"""The Recorder's and step()'s arguments, checked before anything is recorded: a wrong type is a
TypeError, a wrong value a ValueError, each saying what was expected and what was given.

Numbers are ints and floats, numpy's numbers and one-element tensors; a bool is not a number.
"""
import numbers
import os

import torch

from . import model_tree, runfile


class RecorderError(RuntimeError):
    """A recorder that cannot start or go on; the message says what was expected."""


def given(value):
    """What was given, for a message: its type and (the start of) its value."""
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _tensor_item(value):
    """A one-element tensor's value, None for any other tensor (bool and complex included)."""
    if value.numel() != 1 or value.dtype == torch.bool or value.is_complex():
        return None
    return value.item()


def step_number(value, name):
    """step()'s loss or accuracy as a float (NaN and infinities are recorded), or None."""
    if value is None:
        return None
    if torch.is_tensor(value):
        item = _tensor_item(value)
        if item is not None:
            return float(item)
    elif _is_number(value):
        return float(value)
    raise TypeError(f"step() expects {name} as a number or a one-element tensor (or None), got "
                    f"{given(value)}")


def epoch(value):
    """step()'s epoch: an integer from 0 to 2^63 - 1."""
    number = value
    if torch.is_tensor(value) and not value.is_floating_point():
        number = _tensor_item(value)
    if not isinstance(number, numbers.Integral) or isinstance(number, bool):
        raise TypeError(f"step() expects epoch as an integer (0, 1, ...), got {given(value)}")
    if not 0 <= int(number) < 2**63:
        raise ValueError(f"step() expects epoch as an integer from 0 to 2^63 - 1, got {number}")
    return int(number)


def run_path(value):
    """The run's file name (str or os.PathLike) as a str."""
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"Recorder expects path as a file name (str or os.PathLike), got "
                        f"{given(value)}")
    return os.fsdecode(value)


def model(value):
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"Recorder expects model as a torch.nn.Module, got {given(value)}")
    return value


def eager(model):
    """Refuses a model that is, or holds BatchNorm layers in, a scripted module."""
    scripted = model_tree.scripted_part(model)
    if scripted is not None:
        name, module = scripted
        what = f"module '{name}'" if name else "model"
        raise RecorderError(
            f"the {what} ({type(module).__name__}) is scripted "
            "(torch.jit.script or torch.jit.trace), which the recorder does not support: "
            "scripted modules run their BatchNorm layers past the hooks it records with; "
            "expected the eager model (record the module, not torch.jit.script(module))")


def detail_every(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"detail_every expects a number of steps of at least 1, got {value!r}")
    return int(value)


def hang_timeout(value):
    """Seconds without progress before the hang explainer speaks, or None (off)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0 \
            or value == float("inf"):
        raise ValueError("hang_timeout expects a number of seconds above 0, or None to turn the "
                         f"hang explainer off, got {value!r}")
    return float(value)


def _text(value, name, optional=False):
    if optional and value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"Recorder expects {name} as text (str){' or None' if optional else ''}, "
                        f"got {given(value)}")
    return value


def _optimizer(optimizer):
    """The optimizer's name, learning rate and weight decay (its first parameter group)."""
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(optimizer, torch.optim.Optimizer) and not isinstance(groups, list):
        raise TypeError(f"Recorder expects optimizer as a torch.optim.Optimizer or None, got "
                        f"{given(optimizer)}")
    if not groups or not isinstance(groups[0], dict):
        raise ValueError(f"Recorder expects an optimizer with a parameter group, got "
                         f"{type(optimizer).__name__} with none")
    settings = {"optimizer": type(optimizer).__name__.lower()}
    for key, default in (("lr", float("nan")), ("weight_decay", 0.0)):
        value = groups[0].get(key, default)
        if torch.is_tensor(value):
            value = _tensor_item(value)
        if not _is_number(value):
            raise TypeError(f"Recorder expects the optimizer's {key} as a number, got "
                            f"{given(groups[0].get(key))}")
        settings[key] = repr(float(value))
    return settings


_WHERE_IT_GOES = {"model": "model_name=", "dataset": "dataset=", "loss": "loss=",
                  "seed": "seed=", "optimizer": "optimizer=", "lr": "optimizer=",
                  "weight_decay": "optimizer="}


def _own_metadata(metadata):
    """The user's metadata as {key: text}; refuses the writers' keys (run-format contract)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"Recorder expects metadata as a dict of str keys to text or numbers, "
                        f"got {given(metadata)}")
    own = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"Recorder expects metadata keys as non-empty text (str), got "
                            f"{given(key)}")
        if key in runfile.RESERVED_META_KEYS or key.startswith(runfile.RESERVED_META_PREFIX):
            where = _WHERE_IT_GOES.get(key)
            raise RecorderError(
                f"metadata key '{key}' is the recorder's own (it writes "
                f"{', '.join(runfile.RESERVED_META_KEYS)}, and keys starting with "
                f"'{runfile.RESERVED_META_PREFIX}' are reserved); expected another key"
                + (f" (the Recorder's {where} argument sets '{key}')" if where else ""))
        if not isinstance(value, str) and not _is_number(value):
            raise TypeError(f"Recorder expects metadata['{key}'] as text or a number, got "
                            f"{given(value)}")
        own[key] = str(value)
    return own


def run_settings(model_name, dataset, loss, seed, optimizer, metadata):
    """What the user says of the run, as meta rows {key: text} (None: the recorder's default)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"Recorder expects seed as an integer or None, got {given(seed)}")
    settings = {"model": _text(model_name, "model_name", optional=True),
                "dataset": _text(dataset, "dataset"), "loss": _text(loss, "loss"),
                "seed": "" if seed is None else str(int(seed))}
    if optimizer is not None:
        settings.update(_optimizer(optimizer))
    settings.update(_own_metadata(metadata))
    return settings
