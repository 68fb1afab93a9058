/* simd: the vector type of the sample path's hot loops, and their builds
 * per CPU (docs/performance.md, issue 14).
 *
 * v2d is a pair of doubles in GCC's generic vectors: one SSE2 register on
 * every x86-64, a NEON register on ARM. The loops that use it do in each lane
 * the operations of the scalar formula, in its order, with no fused
 * multiply-add (-ffp-contract=off), so their results are the same bits as
 * one value at a time, on every machine.
 *
 * SIMD_CLONES builds a function twice on x86-64 (function multiversioning):
 * for AVX2 and for the baseline; the loader picks the one the CPU runs. The
 * AVX2 build gains three-operand instructions (fewer register copies), not
 * wider lanes or FMA, so both give the same bits. The default build thus
 * still runs on any x86-64 (no -march=native).
 */
#ifndef METERSIM_SIMD_H
#define METERSIM_SIMD_H

#include <stdint.h>

typedef double v2d __attribute__((vector_size(16)));
typedef int64_t v2i __attribute__((vector_size(16)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(METERSIM_NO_CLONES)
#define SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SIMD_CLONES
#endif

#endif
