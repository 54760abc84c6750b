// SPDX-License-Identifier: MIT
// Anchor source so the PCH target has something to compile.
