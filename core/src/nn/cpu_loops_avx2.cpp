// SPDX-License-Identifier: MIT
// The CPU loops compiled for AVX2 and FMA.
#define REPLICASCOPE_LOOPS_FUNCTION cpu_loops_avx2
#define REPLICASCOPE_LOOPS_ISA "avx2"
#include "cpu_loops_instance.inc"
