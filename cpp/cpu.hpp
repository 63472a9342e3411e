// Which instruction sets this CPU runs. Plain C++17, no Python.
//
// x86-64 wheels target the SSE2 baseline; the row split and the key writer
// have AVX2 versions, compiled with a target attribute and chosen at run time.
#pragma once

#include <cstdlib>
#include <cstring>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define MEDANON_AVX2 1
#include <immintrin.h>
#endif

namespace medanon {

// Whether this CPU runs AVX2; MEDANON_DISABLE_AVX2=1 in the environment says
// no (to test the portable paths, or to rule them out).
inline bool cpu_has_avx2() {
#ifdef MEDANON_AVX2
    const char* off = std::getenv("MEDANON_DISABLE_AVX2");
    if (off != nullptr && off[0] != '\0' && std::strcmp(off, "0") != 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
#else
    return false;
#endif
}

}  // namespace medanon
