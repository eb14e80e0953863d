#include "load_tracker.h"

#include <algorithm>
#include <cmath>

namespace skiff::cli {

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::min(values.size(), std::max<size_t>(rank, 1)) - 1];
}

Distribution summarize(const std::vector<double>& values_ms) {
  Distribution d;
  d.count = values_ms.size();
  d.p50_ms = percentile(values_ms, 50);
  d.p99_ms = percentile(values_ms, 99);
  d.max_ms = percentile(values_ms, 100);
  return d;
}

LoadTracker::LoadTracker(size_t streams, size_t types_per_config)
    : types_per_config_(types_per_config), streams_(streams), last_ack_(LoadClock::now()) {}

void LoadTracker::recordAck(size_t stream, const std::string& type_url,
                            const std::string& version, size_t resources,
                            LoadClock::time_point at) {
  std::lock_guard<std::mutex> lock(mutex_);
  StreamState& state = streams_[stream];
  last_ack_ = at;
  auto known = std::find(state.acked_types.begin(), state.acked_types.end(), type_url);
  if (known == state.acked_types.end()) {
    state.acked_types.push_back(type_url);
    state.resources_per_type.push_back(resources);
  } else {
    state.resources_per_type[known - state.acked_types.begin()] = resources;
  }
  if (!state.full_config_at && state.acked_types.size() >= types_per_config_) {
    state.full_config_at = at;
    ++full_configs_;
  }
  if (round_active_ && at >= round_trigger_) {
    if (state.round_acked_at) {
      ++round_extra_;
    } else {
      state.round_acked_at = at;
      ++round_done_;
      if (std::find(round_versions_.begin(), round_versions_.end(), version) ==
          round_versions_.end()) {
        round_versions_.push_back(version);
      }
    }
  }
  changed_.notify_all();
}

void LoadTracker::recordClosed(size_t stream, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  StreamState& state = streams_[stream];
  if (state.closed) return;
  state.closed = true;
  ++closed_;
  if (first_close_reason_.empty()) first_close_reason_ = reason;
  changed_.notify_all();
}

size_t LoadTracker::openStreamsLocked() const { return streams_.size() - closed_; }

bool LoadTracker::everyStreamLocked(bool (*done)(const StreamState&)) const {
  // A closed stream will not answer any more: it does not hold a wait up.
  for (const auto& s : streams_) {
    if (!s.closed && !done(s)) return false;
  }
  return true;
}

bool LoadTracker::waitInitial(LoadClock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] {
    return everyStreamLocked([](const StreamState& s) { return s.full_config_at.has_value(); });
  }) && full_configs_ > 0;
}

void LoadTracker::startRound(LoadClock::time_point trigger) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& s : streams_) s.round_acked_at.reset();
  round_active_ = true;
  round_trigger_ = trigger;
  round_done_ = 0;
  round_extra_ = 0;
  round_versions_.clear();
}

bool LoadTracker::waitRound(LoadClock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] {
    return everyStreamLocked([](const StreamState& s) { return s.round_acked_at.has_value(); });
  });
}

void LoadTracker::waitQuiet(LoadClock::duration quiet, LoadClock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    auto quiet_until = last_ack_ + quiet;
    auto now = LoadClock::now();
    if (now >= quiet_until || now >= deadline) return;
    changed_.wait_until(lock, std::min(quiet_until, deadline));
  }
}

LoadTracker::Snapshot LoadTracker::snapshot(LoadClock::time_point start) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Snapshot snap;
  snap.open_streams = openStreamsLocked();
  snap.closed_streams = closed_;
  snap.first_close_reason = first_close_reason_;
  bool first = true;
  for (const auto& s : streams_) {
    if (s.full_config_at) {
      snap.initial_ms.push_back(
          std::chrono::duration<double, std::milli>(*s.full_config_at - start).count());
      size_t total = 0;
      for (size_t n : s.resources_per_type) total += n;
      snap.min_resources = first ? total : std::min(snap.min_resources, total);
      snap.max_resources = std::max(snap.max_resources, total);
      first = false;
    }
    if (round_active_ && s.round_acked_at) {
      snap.round_ms.push_back(
          std::chrono::duration<double, std::milli>(*s.round_acked_at - round_trigger_).count());
    }
  }
  snap.round_extra_responses = round_extra_;
  snap.round_versions = round_versions_;
  return snap;
}

}  // namespace skiff::cli
