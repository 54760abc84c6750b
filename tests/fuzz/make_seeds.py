#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/) into tests/fuzz/<target>/.

usage: make_seeds.py CLI

CLI is a built replicascope-cli: the run file seeds are runs it records, shrunk (SQLite pages of
512 bytes) so that the fuzzer mutates kilobytes, not a hundred. Needs Debian's python3-torch for
the model seeds. The seeds are committed; run this again when a format changes. Each corpus has
valid files and a few invalid ones; file names have no extension (.gitignore ignores *.pt and
*.sqlite).
"""
import gzip
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as out:
        out.write(data)


def idx(magic, sizes, values):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in sizes) + bytes(values)


def idx_pair(images, labels):
    """fuzz_idx's input: the images file's length (4 bytes, little-endian), images, labels."""
    return struct.pack("<I", len(images)) + images + labels


def idx_seeds():
    images = idx(0x803, [3, 4, 4], range(48))
    labels = idx(0x801, [3], [0, 7, 9])
    write("idx", "three-images", idx_pair(images, labels))
    write("idx", "three-images-gz", idx_pair(gzip.compress(images, mtime=0),
                                             gzip.compress(labels, mtime=0)))
    write("idx", "swapped-magic", idx_pair(labels, images))
    write("idx", "truncated-images", idx_pair(images[:40], labels))
    write("idx", "label-out-of-range", idx_pair(images, idx(0x801, [3], [0, 10, 1])))
    # Found by fuzz_idx: no images of 2^32 x 2^32 pixels overflowed LibTorch's strides.
    write("idx", "no-images-of-huge-size", idx_pair(idx(0x803, [0, 0xFFFFFFFF, 0xFFFFFF2D], []),
                                                    idx(0x801, [0], [])))


def cifar10_seeds():
    record = bytes([3]) + bytes(i % 251 for i in range(3 * 32 * 32))
    write("cifar10", "one-record", record)
    write("cifar10", "one-record-gz", gzip.compress(record, mtime=0))
    write("cifar10", "label-10", bytes([10]) + record[1:])
    write("cifar10", "short", record[:100])


def png(width, height, colour_type, pixels):
    """A PNG by hand (zlib and CRC32): one IHDR, one IDAT of unfiltered rows, IEND."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    rows = b"".join(b"\0" + pixels[y * width * channels:(y + 1) * width * channels]
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def image_seeds():
    from torchvision.io import encode_jpeg
    gray = bytes(i * 7 % 256 for i in range(8 * 6))
    write("image", "gray-8x6.png", png(8, 6, 0, gray))
    write("image", "rgba-4x4.png", png(4, 4, 6, bytes(i * 13 % 256 for i in range(4 * 4 * 4))))
    write("image", "truncated.png", png(8, 6, 0, gray)[:40])
    write("image", "huge-header.png", png(8, 6, 0, gray)[:16] + struct.pack(">II", 1 << 30, 1 << 30))
    rgb = torch.randint(0, 256, (3, 16, 12), dtype=torch.uint8)
    write("image", "rgb-16x12.jpg", bytes(encode_jpeg(rgb, quality=80).tolist()))
    write("image", "gray-8x8.jpg", bytes(encode_jpeg(rgb[:1, :8, :8], quality=80).tolist()))
    write("image", "truncated.jpg", bytes(encode_jpeg(rgb, quality=80).tolist())[:120])
    write("image", "text", b"not an image at all")


def shrink(path, wal):
    """Rewrites the run with 512-byte pages, in WAL or rollback-journal mode."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA page_size=512")
    db.execute("VACUUM")
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.close()
    with open(path, "rb") as run:
        return run.read()


def run_file_seeds(cli):
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run.sqlite")
        subprocess.run([cli, "train", "--steps", "2", "--batch", "4", "--devices", "cpu:2",
                        "--data", "synthetic", "--run", run],
                       check=True, stdout=subprocess.DEVNULL)
        write("run_file", "two-steps-wal", shrink(run, wal=True))
        write("run_file", "two-steps", shrink(run, wal=False))
        version1 = os.path.join(tmp, "v1.sqlite")
        shutil.copy(os.path.join(HERE, "..", "data", "run_v1.sqlite"), version1)
        write("run_file", "version-1", shrink(version1, wal=False))
    write("run_file", "not-sqlite", b"SQLite format 3\0" + bytes(84))


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)
        self.bn = torch.nn.BatchNorm1d(2)
        self.register_buffer("offset", torch.tensor([1.0, 2.0], dtype=torch.float64))

    def forward(self, x):
        return self.bn(self.lin(x)) + self.offset.float()


def model_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        tiny = os.path.join(tmp, "tiny.pt")
        torch.jit.script(Tiny().eval()).save(tiny)
        with open(tiny, "rb") as model:
            write("model_archive", "tiny", model.read())
        # The same archive rewritten by Python's zipfile (no zip64 records, no alignment), with
        # the first tensor record cut short: what load_module must refuse.
        cut = os.path.join(tmp, "cut.pt")
        with zipfile.ZipFile(tiny) as original, zipfile.ZipFile(cut, "w") as copy:
            for info in original.infolist():
                data = original.read(info)
                copy.writestr(info, data[:4] if info.filename.endswith("/data/0") else data)
        with open(cut, "rb") as model:
            write("model_archive", "tiny-record-cut", model.read())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.manual_seed(0)
    idx_seeds()
    cifar10_seeds()
    image_seeds()
    run_file_seeds(sys.argv[1])
    model_seeds()
    for target in sorted(os.listdir(HERE)):
        folder = os.path.join(HERE, target)
        if os.path.isdir(folder):
            sizes = [os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)]
            print(f"{target}: {len(sizes)} seeds, {sum(sizes)} bytes")


if __name__ == "__main__":
    main()
