#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Opt-in: the archive check on every torchvision classification and video model.

usage: bench/check_torchvision_archives.py CLI [--only NAME,...] [--keep DIR]

Scripts each model of torchvision.models and torchvision.models.video (random weights,
num_classes=10; googlenet and inception_v3 with aux_logits=False, as they script) with the
installed PyTorch, saves it, and runs `CLI inspect` on the archive: the archive check must accept
every archive that PyTorch wrote and LibTorch loads. One line per model: accepted, REFUSED (with
the CLI's message), or not scriptable here (PyTorch's own limit, not ours). Exits 1 when any
scripted model was refused. Slow (the big models take minutes each to script and save, about
4 GB of disk for all); not part of the test suite, whose corpus of small archives is
tests/fixtures/archive_corpus.py.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import warnings

import torch
import torchvision

ARGUMENTS = {"googlenet": {"aux_logits": False, "init_weights": False},
             "inception_v3": {"aux_logits": False, "init_weights": False}}


def model_names(only):
    names = []
    for module in (torchvision.models, torchvision.models.video):
        names += torchvision.models.list_models(module=module)
    return [n for n in names if not only or n in only]


def save_scripted(name, path):
    try:
        model = torchvision.models.get_model(name, num_classes=10, **ARGUMENTS.get(name, {}))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.script(model.eval()).save(path)
        return None
    except Exception as error:  # PyTorch's own refusal: the model is left out, saying why
        return str(error).strip().splitlines()[0][:100]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cli")
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--keep", help="keep the archives in this folder")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    folder = args.keep or tempfile.mkdtemp(prefix="replicascope_archives_")
    os.makedirs(folder, exist_ok=True)
    refused = accepted = unscriptable = 0
    for name in model_names(only):
        path = os.path.join(folder, name + ".pt")
        why = save_scripted(name, path)
        if why:
            unscriptable += 1
            print(f"{name:24} not scriptable here: {why}", flush=True)
            continue
        done = subprocess.run([args.cli, "inspect", path], capture_output=True, text=True)
        if done.returncode == 0:
            accepted += 1
            print(f"{name:24} accepted", flush=True)
        else:
            refused += 1
            print(f"{name:24} REFUSED: {done.stderr.strip()[:200]}", flush=True)
        if not args.keep:
            os.remove(path)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}: {accepted} accepted, "
          f"{refused} refused, {unscriptable} not scriptable")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
