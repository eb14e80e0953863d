#pragma once

// The fuzz targets' assertion: a broken promise aborts (which libFuzzer reports as a crash and
// keeps the input for), after naming the condition and its line, so a CI failure can be read
// without a debugger. Active in every build type, unlike assert().

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
