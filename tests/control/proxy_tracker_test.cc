#include "proxy_tracker.h"

#include "gtest/gtest.h"
#include "translator.h"

namespace skiff::control {
namespace {

class ProxyTrackerTest : public ::testing::Test {
 protected:
  ProxyTrackerTest() : tracker_(node(), StreamType::kDelta, "ipv4:127.0.0.1:5000", 100) {
    tracker_.setMeshVersion("mesh-1");
  }

  static config::v1::Node node() {
    config::v1::Node node;
    node.set_id("frontend-0");
    node.set_workload("frontend");
    return node;
  }

  const control::v1::TypeStatus& type(const std::string& type_url) {
    status_ = tracker_.status();
    for (const auto& type : status_.types()) {
      if (type.type_url() == type_url) return type;
    }
    static control::v1::TypeStatus none;
    return none;
  }

  // Every type subscribed, sent at version "v1-<type>" and ACKed.
  void syncAll() {
    for (const std::string& type_url : kPushOrder) {
      ASSERT_EQ(tracker_.onRequest(type_url, "", nullptr, 0), ProxyTracker::Answer::kFirst);
      tracker_.recordSent(type_url, "n-" + type_url, "v1", 2);
      ASSERT_EQ(tracker_.onRequest(type_url, "n-" + type_url, nullptr, 0),
                ProxyTracker::Answer::kAck);
    }
  }

  ProxyTracker tracker_;
  control::v1::ProxyStatus status_;
};

TEST_F(ProxyTrackerTest, AckRecordsTheSentVersionAndSyncsOnceEveryTypeIsAcked) {
  EXPECT_EQ(tracker_.status().synced_version(), "");
  syncAll();
  const control::v1::ProxyStatus status = tracker_.status();
  EXPECT_EQ(status.synced_version(), "mesh-1");
  EXPECT_EQ(status.stream_type(), "DELTA");
  EXPECT_EQ(status.peer(), "ipv4:127.0.0.1:5000");
  EXPECT_EQ(status.connected_since(), 100);
  ASSERT_EQ(status.types_size(), 4);
  EXPECT_EQ(type(xds::kClusterType).acked_version(), "v1");
  EXPECT_EQ(type(xds::kClusterType).resource_count(), 2u);
}

TEST_F(ProxyTrackerTest, NackRecordsVersionTextAndTime) {
  syncAll();
  tracker_.recordSent(xds::kRouteType, "n2", "v2", 1);
  EXPECT_EQ(tracker_.status().synced_version(), "");  // v2 pending
  discovery::v1::ErrorDetail error;
  error.set_code(3);
  error.set_message("route configuration \"outbound\": bad regex");
  EXPECT_EQ(tracker_.onRequest(xds::kRouteType, "n2", &error, 1234),
            ProxyTracker::Answer::kNack);
  const control::v1::TypeStatus& routes = type(xds::kRouteType);
  EXPECT_EQ(routes.sent_version(), "v2");
  EXPECT_EQ(routes.acked_version(), "v1");
  EXPECT_EQ(routes.nacked_version(), "v2");
  EXPECT_EQ(routes.last_nack_error(), "route configuration \"outbound\": bad regex");
  EXPECT_EQ(routes.last_nack_time(), 1234);
  EXPECT_EQ(tracker_.status().synced_version(), "");
  // The sent version stays the NACKed one: the stream compares against it and does not resend.
  EXPECT_EQ(tracker_.sentVersion(xds::kRouteType), "v2");
}

TEST_F(ProxyTrackerTest, StaleNonceIsIgnored) {
  syncAll();
  tracker_.recordSent(xds::kClusterType, "n2", "v2", 1);
  tracker_.recordSent(xds::kClusterType, "n3", "v3", 1);
  discovery::v1::ErrorDetail error;
  error.set_message("late");
  EXPECT_EQ(tracker_.onRequest(xds::kClusterType, "n2", &error, 5), ProxyTracker::Answer::kStale);
  EXPECT_EQ(tracker_.onRequest(xds::kClusterType, "n2", nullptr, 5),
            ProxyTracker::Answer::kStale);
  EXPECT_EQ(tracker_.onRequest(xds::kClusterType, "unknown", nullptr, 5),
            ProxyTracker::Answer::kStale);
  EXPECT_EQ(type(xds::kClusterType).acked_version(), "v1");
  EXPECT_EQ(type(xds::kClusterType).nacked_version(), "");
  EXPECT_EQ(tracker_.onRequest(xds::kClusterType, "n3", nullptr, 5), ProxyTracker::Answer::kAck);
  EXPECT_EQ(type(xds::kClusterType).acked_version(), "v3");
}

TEST_F(ProxyTrackerTest, NewVersionAfterNackClearsTheNackWhenAcked) {
  syncAll();
  tracker_.recordSent(xds::kListenerType, "n2", "v2", 2);
  discovery::v1::ErrorDetail error;
  error.set_message("port in use");
  ASSERT_EQ(tracker_.onRequest(xds::kListenerType, "n2", &error, 7),
            ProxyTracker::Answer::kNack);
  tracker_.setMeshVersion("mesh-3");
  tracker_.recordSent(xds::kListenerType, "n3", "v3", 2);
  ASSERT_EQ(tracker_.onRequest(xds::kListenerType, "n3", nullptr, 8), ProxyTracker::Answer::kAck);
  const control::v1::TypeStatus& listeners = type(xds::kListenerType);
  EXPECT_EQ(listeners.acked_version(), "v3");
  EXPECT_EQ(listeners.nacked_version(), "");
  // The last error stays visible as history.
  EXPECT_EQ(listeners.last_nack_error(), "port in use");
  EXPECT_EQ(tracker_.status().synced_version(), "mesh-3");
}

TEST(NonceTest, FreshEveryTime) { EXPECT_NE(nextNonce(), nextNonce()); }

}  // namespace
}  // namespace skiff::control
