// Sharded metrics: counters, gauges, histograms and code counters updated from real threads.

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "stats/stats.h"

namespace skiff::stats {
namespace {

// Runs `body` on `workers` threads, thread i registered as shard i, and waits for them.
template <typename F>
void runOnWorkers(int workers, F body) {
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([i, &body] {
      setThreadShard(i);
      body(i);
    });
  }
  for (auto& t : threads) t.join();
}

TEST(ThreadShardTest, UnregisteredThreadReportsMinusOne) {
  int seen = 0;
  std::thread([&] { seen = threadShard(); }).join();
  EXPECT_EQ(seen, -1);
  std::thread([&] {
    setThreadShard(3);
    seen = threadShard();
  }).join();
  EXPECT_EQ(seen, 3);
}

TEST(CounterTest, SumsShardsWrittenByManyThreads) {
  constexpr int kWorkers = 4;
  constexpr int kIncrements = 200000;
  Counter counter(kWorkers + 1);
  runOnWorkers(kWorkers, [&](int) {
    for (int i = 0; i < kIncrements; ++i) counter.inc();
  });
  EXPECT_EQ(counter.value(), uint64_t{kWorkers} * kIncrements);
}

TEST(CounterTest, IncByN) {
  Counter counter(2);
  setThreadShard(1);
  counter.inc(40);
  counter.inc(2);
  EXPECT_EQ(counter.value(), 42u);
}

TEST(CounterTest, UnregisteredAndOutOfRangeThreadsUseTheLastShard) {
  // Two writers on one shard would race: run them one after the other. The point is that
  // neither indexes outside the shard array (ASan would catch it) and both are counted.
  Counter counter(2);
  std::thread([&] { counter.inc(5); }).join();  // shard -1
  std::thread([&] {
    setThreadShard(7);  // past the end of a 2-shard metric
    counter.inc(6);
  }).join();
  EXPECT_EQ(counter.value(), 11u);
}

TEST(GaugeTest, AddAndSubAcrossThreads) {
  constexpr int kWorkers = 4;
  Gauge gauge(kWorkers + 1);
  runOnWorkers(kWorkers, [&](int i) {
    for (int k = 0; k < 1000; ++k) gauge.add(i + 1);
    for (int k = 0; k < 500; ++k) gauge.sub(i + 1);
  });
  EXPECT_EQ(gauge.value(), 500 * (1 + 2 + 3 + 4));
}

TEST(GaugeTest, IncrementOnOneShardDecrementOnAnother) {
  Gauge gauge(3);
  std::thread([&] {
    setThreadShard(0);
    gauge.add(3);
  }).join();
  std::thread([&] {
    setThreadShard(1);
    gauge.sub(5);
  }).join();
  EXPECT_EQ(gauge.value(), -2);
  std::thread([&] {
    setThreadShard(2);
    gauge.add(2);
  }).join();
  EXPECT_EQ(gauge.value(), 0);
}

TEST(GaugeTest, SharedShardDoesNotLoseUpdates) {
  // Unregistered threads all land on the last shard; a gauge must still balance out.
  Gauge gauge(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 100000; ++k) {
        gauge.add();
        gauge.sub();
      }
      gauge.add();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(gauge.value(), 4);
}

// Index of the only non-empty bucket after recording `seconds` once.
int bucketOf(double seconds) {
  Histogram h(1);
  h.record(seconds);
  Histogram::Snapshot snap = h.snapshot();
  int found = -1;
  for (size_t i = 0; i < snap.buckets.size(); ++i) {
    if (snap.buckets[i] == 1) {
      EXPECT_EQ(found, -1);
      found = static_cast<int>(i);
    } else {
      EXPECT_EQ(snap.buckets[i], 0u);
    }
  }
  return found;
}

TEST(HistogramTest, BoundsAreInclusive) {
  setThreadShard(0);
  for (size_t i = 0; i < Histogram::kBounds.size(); ++i) {
    double bound = Histogram::kBounds[i];
    EXPECT_EQ(bucketOf(bound), static_cast<int>(i)) << bound;
    EXPECT_EQ(bucketOf(std::nextafter(bound, 100.0)), static_cast<int>(i + 1)) << bound;
    EXPECT_EQ(bucketOf(std::nextafter(bound, 0.0)), static_cast<int>(i)) << bound;
  }
}

TEST(HistogramTest, EdgeValues) {
  setThreadShard(0);
  EXPECT_EQ(bucketOf(0), 0);
  EXPECT_EQ(bucketOf(-1), 0);
  EXPECT_EQ(bucketOf(std::nan("")), 0);
  EXPECT_EQ(bucketOf(10.0001), 14);
  EXPECT_EQ(bucketOf(1e300), 14);
  EXPECT_EQ(bucketOf(std::numeric_limits<double>::infinity()), 14);
}

TEST(HistogramTest, CountAndSumAcrossThreads) {
  constexpr int kWorkers = 3;
  Histogram h(kWorkers + 1);
  runOnWorkers(kWorkers, [&](int) {
    for (int k = 0; k < 1000; ++k) {
      h.record(0.002);  // bucket 0.0025
      h.record(0.3);    // bucket 0.5
    }
  });
  setThreadShard(kWorkers);
  h.record(-5);  // counts, adds nothing to the sum
  Histogram::Snapshot snap = h.snapshot();
  EXPECT_EQ(snap.count, 6001u);
  EXPECT_EQ(snap.buckets[0], 1u);
  EXPECT_EQ(snap.buckets[2], 3000u);
  EXPECT_EQ(snap.buckets[9], 3000u);
  // Stored in integer nanoseconds, so the sum is exact: 3000 * 0.302 s.
  EXPECT_DOUBLE_EQ(snap.sum, 906.0);
}

TEST(HistogramTest, SumKeepsNanosecondResolution) {
  setThreadShard(0);
  Histogram h(1);
  h.record(0.000000001);
  h.record(0.000000002);
  EXPECT_DOUBLE_EQ(h.snapshot().sum, 0.000000003);
}

TEST(CodeCounterTest, CountsPerCodeAcrossShards) {
  constexpr int kWorkers = 3;
  CodeCounter codes(kWorkers + 1);
  runOnWorkers(kWorkers, [&](int i) {
    for (int k = 0; k < 10000; ++k) codes.inc(200);
    codes.inc(500 + i);
  });
  EXPECT_EQ(codes.value(200), 30000u);
  EXPECT_EQ(codes.value(500), 1u);
  EXPECT_EQ(codes.value(501), 1u);
  EXPECT_EQ(codes.value(502), 1u);
  EXPECT_EQ(codes.value(404), 0u);
}

TEST(CodeCounterTest, RangeEndsCountedOutsideIgnored) {
  setThreadShard(0);
  CodeCounter codes(1);
  codes.inc(100);
  codes.inc(599);
  codes.inc(99);
  codes.inc(600);
  codes.inc(0);
  codes.inc(-1);
  codes.inc(1000000);
  EXPECT_EQ(codes.value(100), 1u);
  EXPECT_EQ(codes.value(599), 1u);
  EXPECT_EQ(codes.value(99), 0u);
  EXPECT_EQ(codes.value(600), 0u);
  EXPECT_EQ(codes.value(0), 0u);
  uint64_t total = 0;
  for (int code = 100; code <= 599; ++code) total += codes.value(code);
  EXPECT_EQ(total, 2u);
}

}  // namespace
}  // namespace skiff::stats
