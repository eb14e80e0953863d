#include "stats/stats.h"

#include <algorithm>
#include <cmath>

namespace skiff::stats {
namespace {

thread_local int current_shard = -1;

// The calling thread's shard in a metric with `count` shards; unregistered threads (-1) and
// indices past the end go to the last shard, the main thread's.
inline int shardIndex(int count) {
  int shard = current_shard;
  return (shard >= 0 && shard < count) ? shard : count - 1;
}

// Only the owning thread writes a shard, so a plain load + store is enough and avoids a locked
// read-modify-write on the request path.
inline void addRelaxed(std::atomic<uint64_t>& v, uint64_t n) {
  v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

void setThreadShard(int shard) { current_shard = shard; }
int threadShard() { return current_shard; }

Counter::Counter(int shards)
    : shards_(new Shard[shards < 1 ? 1 : shards]), shard_count_(shards < 1 ? 1 : shards) {}

void Counter::inc(uint64_t n) { addRelaxed(shards_[shardIndex(shard_count_)].value, n); }

uint64_t Counter::value() const {
  uint64_t total = 0;
  for (int i = 0; i < shard_count_; ++i) total += shards_[i].value.load(std::memory_order_relaxed);
  return total;
}

Gauge::Gauge(int shards)
    : shards_(new Shard[shards < 1 ? 1 : shards]), shard_count_(shards < 1 ? 1 : shards) {}

void Gauge::add(int64_t n) {
  shards_[shardIndex(shard_count_)].value.fetch_add(n, std::memory_order_relaxed);
}

int64_t Gauge::value() const {
  // Shards may be negative on their own (a decrement on another shard than the increment);
  // only the sum means anything. Unsigned arithmetic keeps the wrap-around defined.
  uint64_t total = 0;
  for (int i = 0; i < shard_count_; ++i) {
    total += static_cast<uint64_t>(shards_[i].value.load(std::memory_order_relaxed));
  }
  return static_cast<int64_t>(total);
}

Histogram::Histogram(int shards)
    : shards_(new Shard[shards < 1 ? 1 : shards]), shard_count_(shards < 1 ? 1 : shards) {}

void Histogram::record(double seconds) {
  if (!(seconds > 0)) seconds = 0;  // negative and NaN
  size_t bucket = 0;
  while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
  // Cap before converting so an absurd value cannot overflow: 100 years is far past any timeout.
  constexpr double kMaxSeconds = 100.0 * 365 * 24 * 3600;
  uint64_t nanos = static_cast<uint64_t>(std::llround(std::min(seconds, kMaxSeconds) * 1e9));
  Shard& shard = shards_[shardIndex(shard_count_)];
  addRelaxed(shard.buckets[bucket], 1);
  addRelaxed(shard.sum_nanos, nanos);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  uint64_t sum_nanos = 0;
  for (int i = 0; i < shard_count_; ++i) {
    const Shard& shard = shards_[i];
    for (size_t b = 0; b < snap.buckets.size(); ++b) {
      snap.buckets[b] += shard.buckets[b].load(std::memory_order_relaxed);
    }
    sum_nanos += shard.sum_nanos.load(std::memory_order_relaxed);
  }
  for (uint64_t n : snap.buckets) snap.count += n;
  snap.sum = static_cast<double>(sum_nanos) / 1e9;
  return snap;
}

CodeCounter::CodeCounter(int shards)
    : counts_(new std::atomic<uint64_t>[static_cast<size_t>(shards < 1 ? 1 : shards) *
                                        (kMax - kMin + 1)]),
      shard_count_(shards < 1 ? 1 : shards) {
  size_t total = static_cast<size_t>(shard_count_) * (kMax - kMin + 1);
  for (size_t i = 0; i < total; ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void CodeCounter::inc(int status) {
  if (status < kMin || status > kMax) return;
  size_t index =
      static_cast<size_t>(shardIndex(shard_count_)) * (kMax - kMin + 1) + (status - kMin);
  addRelaxed(counts_[index], 1);
}

uint64_t CodeCounter::value(int status) const {
  if (status < kMin || status > kMax) return 0;
  uint64_t total = 0;
  for (int i = 0; i < shard_count_; ++i) {
    total += counts_[static_cast<size_t>(i) * (kMax - kMin + 1) + (status - kMin)].load(
        std::memory_order_relaxed);
  }
  return total;
}

}  // namespace skiff::stats
