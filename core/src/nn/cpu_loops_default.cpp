// SPDX-License-Identifier: MIT
// The CPU loops for the baseline instruction set of the build.
#define REPLICASCOPE_LOOPS_FUNCTION cpu_loops_default
#define REPLICASCOPE_LOOPS_ISA "default"
#include "cpu_loops_instance.inc"
