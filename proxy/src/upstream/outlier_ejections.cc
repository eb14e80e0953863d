#include "upstream/outlier_ejections.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "config/duration.h"

namespace skiff::upstream {
namespace {

std::chrono::milliseconds durationOr(bool has, const google::protobuf::Duration& value,
                                     std::chrono::milliseconds fallback) {
  return has ? config::toMilliseconds(value) : fallback;
}

}  // namespace

OutlierEjections::Settings OutlierEjections::settingsFrom(
    const config::v1::OutlierDetection& config) {
  Settings settings;
  settings.base_ejection_time = durationOr(config.has_base_ejection_time(),
                                           config.base_ejection_time(),
                                           settings.base_ejection_time);
  settings.max_ejection_time = durationOr(config.has_max_ejection_time(),
                                          config.max_ejection_time(), settings.max_ejection_time);
  if (config.has_max_ejection_percent()) {
    settings.max_ejection_percent = config.max_ejection_percent().value();
  }
  return settings;
}

absl::Status OutlierEjections::check(const config::v1::OutlierDetection& config,
                                     const std::string& path) {
  auto positive = [&](bool has, const google::protobuf::Duration& value,
                      const char* field) -> absl::Status {
    if (has && config::toMilliseconds(value).count() <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".", field, ": must be at least 1ms"));
    }
    return absl::OkStatus();
  };
  for (absl::Status status :
       {positive(config.has_interval(), config.interval(), "interval"),
        positive(config.has_base_ejection_time(), config.base_ejection_time(),
                 "base_ejection_time"),
        positive(config.has_max_ejection_time(), config.max_ejection_time(),
                 "max_ejection_time")}) {
    if (!status.ok()) return status;
  }
  Settings settings = settingsFrom(config);
  if (settings.max_ejection_time < settings.base_ejection_time) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ".max_ejection_time: must not be shorter than base_ejection_time (",
        settings.base_ejection_time.count(), "ms)"));
  }
  if (settings.max_ejection_percent > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ".max_ejection_percent: must be between 0 and 100"));
  }
  return absl::OkStatus();
}

OutlierEjections::Decision OutlierEjections::onFailureStreak(const std::string& address,
                                                             Time now, size_t host_count) {
  HostState& state = hosts_[address];
  if (state.ejected) return Decision::kAlreadyEjected;
  size_t allowed = std::max<size_t>(1, host_count * settings_.max_ejection_percent / 100);
  if (ejectedCount() >= allowed) return Decision::kOverMaxEjectionPercent;
  ++state.multiplier;
  state.ejected = true;
  auto out = std::min(settings_.base_ejection_time * state.multiplier,
                      settings_.max_ejection_time);
  state.until = now + out;
  return Decision::kEjected;
}

std::vector<std::string> OutlierEjections::review(Time now) {
  std::vector<std::string> back;
  for (auto& [address, state] : hosts_) {
    if (state.ejected) {
      if (now >= state.until) {
        state.ejected = false;
        back.push_back(address);
      }
    } else if (state.multiplier > 0) {
      --state.multiplier;
    }
  }
  std::sort(back.begin(), back.end());
  return back;
}

bool OutlierEjections::ejected(const std::string& address) const {
  auto it = hosts_.find(address);
  return it != hosts_.end() && it->second.ejected;
}

size_t OutlierEjections::ejectedCount() const {
  return std::count_if(hosts_.begin(), hosts_.end(),
                       [](const auto& entry) { return entry.second.ejected; });
}

uint32_t OutlierEjections::ejectionMultiplier(const std::string& address) const {
  auto it = hosts_.find(address);
  return it == hosts_.end() ? 0 : it->second.multiplier;
}

OutlierEjections::Time OutlierEjections::ejectedUntil(const std::string& address) const {
  auto it = hosts_.find(address);
  return it == hosts_.end() ? Time{} : it->second.until;
}

void OutlierEjections::retainOnly(const std::vector<std::string>& addresses) {
  absl::flat_hash_set<std::string> keep(addresses.begin(), addresses.end());
  absl::erase_if(hosts_, [&](const auto& entry) { return !keep.contains(entry.first); });
}

}  // namespace skiff::upstream
