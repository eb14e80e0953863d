#include "common/logging.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace skiff::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};

const char* levelName(Level level) {
  switch (level) {
    case Level::kTrace: return "trace";
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    case Level::kOff: return "off";
  }
  return "?";
}

}  // namespace

void setLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

bool parseLevel(const std::string& text, Level* out) {
  for (Level l : {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError,
                  Level::kOff}) {
    if (text == levelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void write(Level level, const std::string& message) {
  char thread_name[16] = "?";
  pthread_getname_np(pthread_self(), thread_name, sizeof(thread_name));
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
      levelName(level), " [", thread_name, "] ", message, "\n");
  // One write() per line keeps lines from different threads whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace skiff::log
