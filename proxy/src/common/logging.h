#pragma once

// Process log to stderr: "<time> <level> [<thread>] message". Cheap when the level is off.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace skiff::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

void setLevel(Level level);
Level level();
bool parseLevel(const std::string& text, Level* out);
void write(Level level, const std::string& message);

}  // namespace skiff::log

#define SKIFF_LOG(LEVEL, ...)                                              \
  do {                                                                     \
    if (::skiff::log::Level::LEVEL >= ::skiff::log::level()) {             \
      ::skiff::log::write(::skiff::log::Level::LEVEL, absl::StrFormat(__VA_ARGS__)); \
    }                                                                      \
  } while (0)
