#pragma once

// google.protobuf.Duration fields as the runtime uses them: milliseconds, with the default an
// unset field stands for (config/defaults.h).

#include <chrono>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

namespace skiff::config {

inline std::chrono::milliseconds toMilliseconds(const google::protobuf::Duration& duration) {
  return std::chrono::milliseconds(duration.seconds() * 1000 + duration.nanos() / 1000000);
}

inline std::chrono::milliseconds millisecondsOr(bool present,
                                                const google::protobuf::Duration& duration,
                                                absl::Duration fallback) {
  if (present) return toMilliseconds(duration);
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(fallback));
}

}  // namespace skiff::config
