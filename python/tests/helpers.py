# SPDX-License-Identifier: MIT
"""Shared by the recorder's tests: small models, a training loop, the reference statistics."""
import os
import shutil
import tempfile
import unittest

import torch


def reference_stats(x):
    """Per-channel mean and biased variance of x [N, C, *] in float64, computed plainly
    (channels first, then one flat mean each), not the way the recorder computes them."""
    x = x.detach().to(torch.float64)
    flat = x.transpose(0, 1).reshape(x.shape[1], -1)
    mean = flat.mean(dim=1)
    var = ((flat - mean[:, None]) ** 2).mean(dim=1)
    return flat.shape[1], mean, var


class Inputs:
    """Keeps every BatchNorm layer's training input, per layer name, in call order."""

    def __init__(self, model):
        self.seen, self.handles = {}, []
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                self.handles.append(module.register_forward_hook(self._keep(name)))

    def _keep(self, name):
        def hook(module, inputs, output):
            if module.training:
                self.seen.setdefault(name, []).append(inputs[0].detach().clone())
        return hook

    def take(self):
        seen, self.seen = self.seen, {}
        return seen

    def remove(self):
        for h in self.handles:
            h.remove()


class Reused(torch.nn.Module):
    """One BatchNorm called twice per forward: two sync points of one layer."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x):
        x = self.bn(self.conv(x))
        x = self.bn(torch.relu(x) * 2.0)
        return self.head(x.mean(dim=(2, 3)))


def small_net(classes=10):
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 16),
        torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, classes))


def batches(count, batch, shape=(3, 16, 16), classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch, *shape, generator=g) * 2 + 0.5,
             torch.randint(0, classes, (batch,), generator=g)) for _ in range(count)]


def train(model, data, recorder=None, lr=0.05, after_step=None, device="cpu"):
    """SGD over `data` (moved to `device`); returns the outputs and gradients of every step
    (clones)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    outputs, grads = [], []
    for images, labels in data:
        images, labels = images.to(device), labels.to(device)
        out = model(images)
        loss = torch.nn.functional.cross_entropy(out, labels)
        loss.backward()
        outputs.append(out.detach().clone())
        grads.append([p.grad.clone() for p in model.parameters()])
        optimizer.step()
        optimizer.zero_grad()
        if recorder is not None:
            accuracy = (out.argmax(dim=1) == labels).double().mean().item()
            recorder.step(loss=loss.item(), accuracy=accuracy)
        if after_step is not None:
            after_step()
    return outputs, grads


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="replicascope-py-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)
