# SPDX-License-Identifier: MIT
"""The house rules' checks fail on what they exist to refuse (scripts/check_layers.py and
scripts/check_sizes.py): an include planted into a copy of the tree that climbs a layer, a file
outside every layer, a table with a cycle, a file over 400 lines and a function over 60."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAYERS = os.path.join(SOURCE, "scripts", "check_layers.py")
SIZES = os.path.join(SOURCE, "scripts", "check_sizes.py")


def run(script, root):
    return subprocess.run([sys.executable, script, "--root", root], capture_output=True,
                          text=True, check=False)


class LayerCheck(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="replicascope_layers_")
        shutil.copytree(os.path.join(SOURCE, "core"), os.path.join(self.root, "core"))
        shutil.copy(os.path.join(SOURCE, "CONTRIBUTING.md"), self.root)

    def tearDown(self):
        shutil.rmtree(self.root)

    def plant(self, path, line):
        path = os.path.join(self.root, path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(line + "\n" + text)

    def test_the_tree_as_it_is_keeps_to_the_table(self):
        result = run(LAYERS, self.root)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("every core include keeps to the 12 layers", result.stdout)

    def test_a_public_include_that_climbs_fails_naming_file_line_and_rule(self):
        self.plant("core/src/nn/convert_model.cpp", '#include "replicascope/engine/session.h"')
        result = run(LAYERS, self.root)
        self.assertEqual(result.returncode, 1)
        self.assertIn('core/src/nn/convert_model.cpp:1: includes "replicascope/engine/session.h" '
                      "of layer engine; nn may use base, dist, parallel, sync", result.stderr)

    def test_a_private_include_that_climbs_fails(self):
        self.plant("core/src/parallel/replicate.cpp", '#include "../model/sync_layers.h"')
        self.plant("core/include/replicascope/base/usage.h",
                   '#include "replicascope/store/run_rows.h"')
        result = run(LAYERS, self.root)
        self.assertEqual(result.returncode, 1)
        self.assertIn("replicate.cpp:1: includes \"../model/sync_layers.h\" of layer model",
                      result.stderr)
        self.assertIn("usage.h:1: includes \"replicascope/store/run_rows.h\" of layer store; "
                      "base may use no other layer", result.stderr)
        self.assertIn("2 include(s) break the layer table", result.stderr)

    def test_a_file_outside_every_layer_fails(self):
        with open(os.path.join(self.root, "core/src/loose.cpp"), "w", encoding="utf-8") as f:
            f.write("int x;\n")
        result = run(LAYERS, self.root)
        self.assertEqual(result.returncode, 1)
        self.assertIn("core/src/loose.cpp: not in a layer's folder", result.stderr)

    def test_a_table_with_a_cycle_or_an_unknown_layer_is_refused(self):
        path = os.path.join(self.root, "CONTRIBUTING.md")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("| `base` | (none) |", "| `base` | `engine` |"))
        result = run(LAYERS, self.root)
        self.assertEqual(result.returncode, 2)
        self.assertIn("the layer table has a cycle", result.stderr)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("| `base` | (none) |", "| `base` | `gui` |"))
        result = run(LAYERS, self.root)
        self.assertEqual(result.returncode, 2)
        self.assertIn("layer base uses gui, which the table does not list", result.stderr)


class SizeCheck(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="replicascope_sizes_")
        os.makedirs(os.path.join(self.root, "core", "src"))
        os.makedirs(os.path.join(self.root, "tests"))

    def tearDown(self):
        shutil.rmtree(self.root)

    def write(self, path, lines):
        with open(os.path.join(self.root, path), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def test_limits_hold_at_the_limit_and_fail_past_it(self):
        body = ["  x += 1;"] * 58  # with its two brace lines: 60
        self.write("core/src/ok.cpp", ["namespace n {", "int f(int x) {"] + body + ["}", "}"])
        self.write("tests/long_test.cpp", ["int t() {"] + body * 8 + ["}"])  # tests are exempt
        result = run(SIZES, self.root)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.write("core/src/long.cpp", ["int Widget::build(int x,", "                  int y) {"]
                   + body + ["  return x;", "}"])
        self.write("core/src/big.h", ["// line"] * 401)
        result = run(SIZES, self.root)
        self.assertEqual(result.returncode, 1)
        self.assertIn("core/src/long.cpp:1: Widget::build is 62 lines (at most 60)", result.stderr)
        self.assertIn("core/src/big.h: 401 lines (at most 400)", result.stderr)
        self.assertNotIn("ok.cpp", result.stderr)

    def test_class_bodies_and_tables_are_not_functions(self):
        self.write("core/src/table.cpp", ["const int kTable[] = {"] + ["  1,"] * 70 + ["};",
                                          "class C {"] + ["  int a;"] * 70 + ["};"])
        result = run(SIZES, self.root)
        self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
    unittest.main()
