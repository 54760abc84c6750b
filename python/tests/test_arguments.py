# SPDX-License-Identifier: MIT
"""The recorder stores only what it expects: step()'s and the Recorder's arguments are checked
(a TypeError or ValueError saying what was expected and what was given), the run's own meta keys
are refused, and scripted models are refused with a message saying to record the eager one."""
import os
import pathlib
import re
import sqlite3
import warnings

import numpy
import torch

from replicascope import Recorder, RecorderError, open_run, runfile

from helpers import TempDirTest, small_net


class StepArguments(TempDirTest):
    def test_wrong_types_are_refused_and_the_step_is_still_recorded_after(self):
        model = small_net()
        path = self.path("step.sqlite")
        with Recorder(path, model) as rec:
            model(torch.randn(4, 3, 8, 8))
            refused = [
                ({"epoch": "x"}, TypeError, "step() expects epoch as an integer (0, 1, ...), got "
                                            "str 'x'"),
                ({"epoch": True}, TypeError, "expects epoch as an integer (0, 1, ...), got bool"),
                ({"epoch": 1.0}, TypeError, "expects epoch as an integer (0, 1, ...), got float"),
                ({"epoch": -1}, ValueError, "expects epoch as an integer from 0 to 2^63 - 1, got -1"),
                ({"loss": "0.5"}, TypeError, "step() expects loss as a number or a one-element "
                                             "tensor (or None), got str '0.5'"),
                ({"loss": False}, TypeError, "expects loss as a number"),
                ({"accuracy": torch.ones(2)}, TypeError, "expects accuracy as a number"),
                ({"accuracy": torch.tensor(True)}, TypeError, "expects accuracy as a number"),
            ]
            for given, error, message in refused:
                with self.subTest(given), self.assertRaisesRegex(error, re.escape(message)):
                    rec.step(**given)
            rec.step(loss=numpy.float32(0.5), accuracy=torch.tensor([0.25]),
                     epoch=numpy.int64(3))
            rec.step(loss=torch.tensor(2, dtype=torch.int32), epoch=torch.tensor(4))
        run = open_run(path)
        self.assertEqual([(s.step, s.epoch, s.loss, s.accuracy) for s in run.steps][0],
                         (1, 3, 0.5, 0.25))
        self.assertEqual(run.steps[1][:3], (2, 4, 2.0))
        # The refused calls took nothing: step 1 has the forward's statistics.
        self.assertEqual(run.statistics("1")["copy 0"].steps.tolist(), [1])
        db = sqlite3.connect(path)
        self.assertEqual(db.execute("SELECT DISTINCT typeof(epoch) FROM steps").fetchall(),
                         [("integer",)])
        db.close()


class RecorderArguments(TempDirTest):
    def refused(self, error, message, model=None, path="r.sqlite", **arguments):
        with self.assertRaisesRegex(error, re.escape(message)):
            Recorder(self.path(path) if isinstance(path, str) else path, model or small_net(),
                     **arguments)
        self.assertEqual(os.listdir(self.dir), [])

    def test_wrong_types_say_what_was_expected_and_what_was_given(self):
        self.refused(TypeError, "Recorder expects path as a file name (str or os.PathLike), got "
                                "int 5", path=5)
        self.refused(TypeError, "Recorder expects model as a torch.nn.Module, got str 'net'",
                     model="net")
        self.refused(TypeError, "Recorder expects dataset as text (str), got int 3", dataset=3)
        self.refused(TypeError, "Recorder expects loss as text (str), got CrossEntropyLoss",
                     loss=torch.nn.CrossEntropyLoss())
        self.refused(TypeError, "Recorder expects model_name as text (str) or None, got int 1",
                     model_name=1)
        self.refused(TypeError, "Recorder expects seed as an integer or None, got bool True",
                     seed=True)
        self.refused(TypeError, "Recorder expects seed as an integer or None, got str '1'",
                     seed="1")
        self.refused(TypeError, "Recorder expects optimizer as a torch.optim.Optimizer or None, "
                                "got str 'sgd'", optimizer="sgd")
        self.refused(TypeError, "Recorder expects metadata as a dict of str keys to text or "
                                "numbers, got list", metadata=[("note", "x")])
        self.refused(TypeError, "Recorder expects metadata keys as non-empty text (str), got "
                                "int 1", metadata={1: "x"})
        self.refused(TypeError, "Recorder expects metadata['flag'] as text or a number, got "
                                "bool True", metadata={"flag": True})
        self.refused(TypeError, "Recorder expects metadata['layers'] as text or a number, got "
                                "list", metadata={"layers": [1, 2]})
        self.refused(ValueError, "detail_every expects a number of steps of at least 1, got "
                                 "True", detail_every=True)

    def test_every_key_the_writers_write_is_refused_in_metadata(self):
        for key in runfile.RESERVED_META_KEYS + ("replicascope.later",):
            with self.subTest(key):
                self.refused(RecorderError, f"metadata key '{key}' is the recorder's own",
                             metadata={key: "x"})
        self.refused(RecorderError, "(the Recorder's model_name= argument sets 'model')",
                     metadata={"model": "EVIL"})
        # The C++ writer's key for which tensor of forward()'s tuple trained (schema version 5).
        self.refused(RecorderError, "metadata key 'model_output' is the recorder's own",
                     metadata={"model_output": "element 0 'logits' of GoogLeNetOutputs"})

    def test_what_it_expects_is_stored_as_text(self):
        path = pathlib.Path(self.path("given.sqlite"))
        model = small_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=torch.tensor(0.1))
        with Recorder(path, model, seed=numpy.int64(7), optimizer=optimizer,
                      metadata={"note": "x", "epochs": 90, "ratio": numpy.float64(0.5)}):
            pass
        meta = open_run(path).metadata
        self.assertEqual((meta["seed"], meta["note"], meta["epochs"], meta["ratio"]),
                         ("7", "x", "90", "0.5"))
        self.assertEqual(meta["optimizer"], "sgd")
        self.assertAlmostEqual(float(meta["lr"]), 0.1, places=6)  # a float32 tensor's 0.1


class ScriptedModels(TempDirTest):
    def test_a_scripted_or_traced_model_is_refused_with_what_to_record_instead(self):
        net = small_net()
        with warnings.catch_warnings():  # the tracer's about BatchNorm's Python-side checks
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(net, torch.randn(2, 3, 8, 8))
        for scripted in (torch.jit.script(net), traced):
            with self.subTest(type(scripted).__name__):
                with self.assertRaisesRegex(RecorderError, re.escape(
                        f"the model ({type(scripted).__name__}) is scripted (torch.jit.script or "
                        "torch.jit.trace), which the recorder does not support")) as caught:
                    Recorder(self.path("scripted.sqlite"), scripted)
                self.assertIn("expected the eager model", str(caught.exception))
        self.assertEqual(os.listdir(self.dir), [])

    def test_a_scripted_part_that_holds_batch_norm_is_refused(self):
        model = torch.nn.Sequential(torch.nn.BatchNorm1d(3),
                                    torch.jit.script(torch.nn.BatchNorm1d(3)))
        with self.assertRaisesRegex(RecorderError, re.escape(
                "the module '1' (RecursiveScriptModule) is scripted")):
            Recorder(self.path("part.sqlite"), model)
