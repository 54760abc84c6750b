// SPDX-License-Identifier: MIT
// Precompiled header for LibTorch: the heavy, stable headers every core TU uses.
#pragma once
#include <torch/script.h>
#include <torch/torch.h>
