#pragma once

// A listener's `http.tracing` (config::v1::Tracing), compiled once and shared read-only by every
// worker. This compiler is the one authority on what is valid: the bootstrap validator and
// skiff-control's mesh loader call it too.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "skiff/config/v1/tracing.pb.h"
#include "tracing/sampler.h"

namespace skiff::tracing {

struct TracingConfig {
  static constexpr double kDefaultSamplingRatio = 0.01;  // Istio's default, 1%
  static constexpr const char* kDefaultForceSamplingHeader = "x-skiff-force-trace";

  // `field` is the message's path, for errors ("static_resources.listeners[0].http.tracing").
  static absl::StatusOr<std::shared_ptr<const TracingConfig>> create(
      const config::v1::Tracing& config, const std::string& field);

  bool accept_w3c = true;
  bool accept_b3 = true;
  bool keep_b3 = true;
  RatioSampler sampler{kDefaultSamplingRatio};
  std::string force_sampling_header = kDefaultForceSamplingHeader;  // lower case
};

}  // namespace skiff::tracing
