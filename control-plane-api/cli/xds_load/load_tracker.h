#pragma once

// skiff-xds-load's bookkeeping, shared by every simulated stream (gRPC callback threads) and the
// main thread: when each stream first held a full config, and, per round (one mesh change),
// when each stream ACKed its first response after the change was written.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace skiff::cli {

using LoadClock = std::chrono::steady_clock;

// Nearest-rank percentile (p in [0, 100]) of `values`; 0 for an empty vector.
double percentile(std::vector<double> values, double p);

struct Distribution {
  size_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};
Distribution summarize(const std::vector<double>& values_ms);

class LoadTracker {
 public:
  // `types_per_config`: how many resource types make a full config (4: CDS, EDS, LDS, RDS).
  LoadTracker(size_t streams, size_t types_per_config);

  // A stream finished writing the ACK of a response of `type_url` carrying `version`, and now
  // holds `resources` resources of that type.
  void recordAck(size_t stream, const std::string& type_url, const std::string& version,
                 size_t resources, LoadClock::time_point at);
  // The stream ended (the control plane closed it, or the network failed).
  void recordClosed(size_t stream, const std::string& reason);

  // Waits until every open stream holds a full config, or `deadline`; true when all did.
  bool waitInitial(LoadClock::time_point deadline);
  // Start of a round: from now on, a stream's next ACK completes the round for it.
  void startRound(LoadClock::time_point trigger);
  // Waits until every open stream ACKed in this round, or `deadline`.
  bool waitRound(LoadClock::time_point deadline);
  // Waits until no ACK arrived for `quiet`, or `deadline`: lets a round's stragglers and any
  // second push of the same change land before the next round starts.
  void waitQuiet(LoadClock::duration quiet, LoadClock::time_point deadline);

  struct Snapshot {
    size_t open_streams = 0;
    size_t closed_streams = 0;
    std::string first_close_reason;
    // Initial: milliseconds from `start` to each stream's full config.
    std::vector<double> initial_ms;
    size_t min_resources = 0;
    size_t max_resources = 0;
    // This round: trigger -> ACK per stream that finished it, responses beyond the first.
    std::vector<double> round_ms;
    size_t round_extra_responses = 0;
    // The versions streams ACKed in this round (normally one: the new mesh/type version).
    std::vector<std::string> round_versions;
  };
  Snapshot snapshot(LoadClock::time_point start) const;

 private:
  struct StreamState {
    bool closed = false;
    std::vector<std::string> acked_types;
    std::vector<size_t> resources_per_type;
    std::optional<LoadClock::time_point> full_config_at;
    std::optional<LoadClock::time_point> round_acked_at;
  };
  size_t openStreamsLocked() const;
  bool everyStreamLocked(bool (*done)(const StreamState&)) const;

  const size_t types_per_config_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<StreamState> streams_;
  size_t closed_ = 0;
  std::string first_close_reason_;
  size_t full_configs_ = 0;
  bool round_active_ = false;
  LoadClock::time_point round_trigger_;
  size_t round_done_ = 0;
  size_t round_extra_ = 0;
  std::vector<std::string> round_versions_;
  LoadClock::time_point last_ack_;
};

}  // namespace skiff::cli
