#pragma once

// Counters, gauges and histograms sharded per thread: each worker (and the main thread) writes
// only its own shard with plain relaxed atomics, and a scrape sums the shards. Metrics are
// created on the main thread only (at config load); workers only update existing ones.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace skiff::stats {

// Shards: workers 0..N-1, the main thread N. Each thread calls setThreadShard once at start.
// threadShard() is -1 on a thread that never called it; metrics map -1 (and any index out of
// their range) to their last shard, the main thread's, so a stray thread cannot index past the
// end. Counters assume one writer per shard, so such threads should still register.
void setThreadShard(int shard);
int threadShard();

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  explicit Counter(int shards);
  void inc(uint64_t n = 1);
  uint64_t value() const;

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> value{0};
  };
  std::unique_ptr<Shard[]> shards_;
  int shard_count_;
};

// Unlike Counter, a shard is updated with fetch_add: gauges are rarely hot, and a lost update
// (two threads sharing a shard, e.g. the main thread and an unregistered one) would leave the
// gauge off for good instead of merely undercounting.
class Gauge {
 public:
  explicit Gauge(int shards);
  void add(int64_t n = 1);
  void sub(int64_t n = 1) { add(-n); }
  int64_t value() const;

 private:
  struct alignas(64) Shard {
    std::atomic<int64_t> value{0};
  };
  std::unique_ptr<Shard[]> shards_;
  int shard_count_;
};

// Latency in seconds, fixed buckets from 0.5 ms to 10 s (+Inf). Bounds are inclusive ("le").
// Negative or NaN values count as 0. The count is the sum of the buckets (not kept apart), so a
// snapshot taken during writes still has count == the +Inf cumulative bucket.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                                     5,      10};
  explicit Histogram(int shards);
  void record(double seconds);
  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> buckets{};  // non-cumulative; last is +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets{};
    std::atomic<uint64_t> sum_nanos{0};
  };
  std::unique_ptr<Shard[]> shards_;
  int shard_count_;
};

// Counts by HTTP status code (100..599); rendered as one series per code seen. Codes outside
// the range are ignored (not counted): a codec never produces them, and folding them into a
// real code would make that code lie.
class CodeCounter {
 public:
  explicit CodeCounter(int shards);
  void inc(int status);
  uint64_t value(int status) const;

 private:
  static constexpr int kMin = 100, kMax = 599;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // shards * (kMax - kMin + 1)
  int shard_count_;
};

class Registry {
 public:
  explicit Registry(int shards);
  ~Registry();
  int shards() const { return shards_; }

  // Same name and labels return the same metric. Main thread only. Names follow Prometheus
  // conventions (counters end in _total); `help` is written once per name. Labels are rendered
  // in the order given at creation; the same set in another order is the same series.
  // Misuse (a name already registered with another type, an invalid metric or label name, a
  // duplicate or reserved label name: "le" on histograms, "code" on code counters, "__*") is a
  // bug: it is logged and a working metric is returned that is never exported.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels);
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels);
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels);
  // Rendered as `name{labels...,code="200"}`.
  CodeCounter& codeCounter(const std::string& name, const std::string& help,
                           const Labels& labels);

  // Prometheus text exposition format 0.0.4; passes `promtool check metrics`. Main thread.
  // Families sorted by name, series in creation order; a family with no samples (a code
  // counter that has counted nothing) is left out entirely.
  std::string renderPrometheus() const;

 private:
  struct Family;
  int shards_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

}  // namespace skiff::stats
