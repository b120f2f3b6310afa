// fuzz_check.hpp - the assertion the fuzz targets use for their invariants.
//
// A violated invariant aborts, which libFuzzer reports as a crash with the input saved.
// Test code only.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)
