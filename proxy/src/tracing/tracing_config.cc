#include "tracing/tracing_config.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "config/field_checks.h"

namespace skiff::tracing {

absl::StatusOr<std::shared_ptr<const TracingConfig>> TracingConfig::create(
    const config::v1::Tracing& config, const std::string& field) {
  auto compiled = std::make_shared<TracingConfig>();
  if (config.accept_size() > 0) {
    compiled->accept_w3c = false;
    compiled->accept_b3 = false;
  }
  for (int i = 0; i < config.accept_size(); ++i) {
    bool* accepted = nullptr;
    switch (config.accept(i)) {
      case config::v1::Tracing::W3C:
        accepted = &compiled->accept_w3c;
        break;
      case config::v1::Tracing::B3:
        accepted = &compiled->accept_b3;
        break;
      default:
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s.accept[%d]: %d is not a format (W3C or B3)", field, i, config.accept(i)));
    }
    if (*accepted) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s.accept[%d]: %s is listed twice", field, i,
                          config::v1::Tracing::Format_Name(config.accept(i))));
    }
    *accepted = true;
  }
  if (config.has_keep_b3()) compiled->keep_b3 = config.keep_b3().value();
  if (config.has_sampling_ratio()) {
    const double ratio = config.sampling_ratio().value();
    if (!(ratio >= 0 && ratio <= 1)) {  // NaN fails both
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".sampling_ratio: ", ratio,
                       " is out of range (0 to 1: 0.01 samples 1% of new traces, 1 all of them)"));
    }
    compiled->sampler = RatioSampler(ratio);
  }
  if (!config.force_sampling_header().empty()) {
    const std::string& name = config.force_sampling_header();
    if (std::string reason = config::internal::checkHeaderName(name); !reason.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".force_sampling_header: ", reason));
    }
    compiled->force_sampling_header = absl::AsciiStrToLower(name);
  }
  return std::shared_ptr<const TracingConfig>(std::move(compiled));
}

}  // namespace skiff::tracing
