#include "load_tracker.h"

#include <gtest/gtest.h>

#include "split_writer.h"

namespace skiff::cli {
namespace {

using std::chrono::milliseconds;

TEST(LoadTrackerTest, Percentiles) {
  EXPECT_EQ(percentile({}, 50), 0);
  EXPECT_EQ(percentile({3, 1, 2}, 50), 2);
  EXPECT_EQ(percentile({3, 1, 2}, 100), 3);
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_EQ(percentile(hundred, 99), 99);
  EXPECT_EQ(percentile(hundred, 0), 1);
}

TEST(LoadTrackerTest, FullConfigNeedsEveryType) {
  LoadTracker tracker(2, 2);
  auto start = LoadClock::now();
  tracker.recordAck(0, "A", "1", 3, start + milliseconds(5));
  tracker.recordAck(0, "A", "2", 4, start + milliseconds(6));
  EXPECT_FALSE(tracker.waitInitial(LoadClock::now()));
  tracker.recordAck(0, "B", "1", 1, start + milliseconds(10));
  tracker.recordAck(1, "B", "1", 1, start + milliseconds(20));
  tracker.recordAck(1, "A", "1", 2, start + milliseconds(30));
  EXPECT_TRUE(tracker.waitInitial(LoadClock::now()));
  auto snap = tracker.snapshot(start);
  ASSERT_EQ(snap.initial_ms.size(), 2u);
  EXPECT_DOUBLE_EQ(snap.initial_ms[0], 10);
  EXPECT_DOUBLE_EQ(snap.initial_ms[1], 30);
  EXPECT_EQ(snap.min_resources, 3u);  // stream 1: 1 + 2
  EXPECT_EQ(snap.max_resources, 5u);  // stream 0: 4 + 1
}

TEST(LoadTrackerTest, RoundCountsFirstAckAfterTriggerAndExtras) {
  LoadTracker tracker(3, 1);
  auto start = LoadClock::now();
  for (size_t s = 0; s < 3; ++s) tracker.recordAck(s, "A", "1", 1, start);
  auto trigger = start + milliseconds(100);
  tracker.startRound(trigger);
  tracker.recordAck(0, "A", "2", 1, trigger + milliseconds(4));
  tracker.recordAck(0, "A", "3", 1, trigger + milliseconds(8));  // a second push
  EXPECT_FALSE(tracker.waitRound(LoadClock::now()));
  tracker.recordAck(1, "A", "2", 1, trigger + milliseconds(6));
  tracker.recordClosed(2, "14 connection reset");
  EXPECT_TRUE(tracker.waitRound(LoadClock::now()));
  auto snap = tracker.snapshot(start);
  EXPECT_EQ(snap.round_ms, (std::vector<double>{4, 6}));
  EXPECT_EQ(snap.round_extra_responses, 1u);
  EXPECT_EQ(snap.round_versions, (std::vector<std::string>{"2"}));
  EXPECT_EQ(snap.open_streams, 2u);
  EXPECT_EQ(snap.first_close_reason, "14 connection reset");
}

TEST(SplitWriterTest, YamlSplitsTheRestAmongOtherVersions) {
  EXPECT_EQ(splitPolicyYaml("backend", {"v1", "v2", "v3"}, 40, 7),
            "# Written by skiff-xds-load (round 7).\n"
            "traffic_policies:\n  - service: backend\n    default_split:\n"
            "      - version: v1\n        weight: 40\n"
            "      - version: v2\n        weight: 30\n"
            "      - version: v3\n        weight: 30\n");
}

TEST(SplitWriterTest, EveryRoundChangesTheFile) {
  std::string path = ::testing::TempDir() + "/split_writer_test.yaml";
  std::remove(path.c_str());
  std::string previous;
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(writeSplitRound(path, "backend", {"v1", "v2"}, round).ok());
    FILE* f = fopen(path.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    char buffer[4096];
    std::string content(buffer, fread(buffer, 1, sizeof(buffer), f));
    fclose(f);
    std::string body = content.substr(content.find('\n') + 1);
    EXPECT_NE(body, previous) << "round " << round;
    previous = body;
  }
  // The loop left v1 at 0 (round 3); round 5 would write v1 at 0 again, so it writes 100.
  ASSERT_TRUE(writeSplitRound(path, "backend", {"v1", "v2"}, 5).ok());
  FILE* f = fopen(path.c_str(), "rb");
  char buffer[4096];
  std::string content(buffer, fread(buffer, 1, sizeof(buffer), f));
  fclose(f);
  EXPECT_NE(content.find("version: v1\n        weight: 100"), std::string::npos) << content;
}

}  // namespace
}  // namespace skiff::cli
