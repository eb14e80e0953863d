// ORIGINAL_DST host selection: a redirected connection's original destination becomes the host;
// a connection whose destination is the listener itself (not redirected) is refused and
// counted, since connecting there would loop back into the proxy.

#include <memory>

#include "event/dispatcher.h"
#include "gtest/gtest.h"
#include "net/listener.h"
#include "stats/stats.h"
#include "upstream/original_dst_host.h"

namespace skiff::upstream {
namespace {

class OriginalDstHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto any = net::parseIpAndPort("127.0.0.1", 0);
    ASSERT_TRUE(any.ok());
    auto sockets = net::bindReusePortSockets(*any, 1);
    ASSERT_TRUE(sockets.ok()) << sockets.status();
    bound_ = (*sockets)[0].boundAddress();
    auto listener = net::TcpListener::create(dispatcher_, std::move((*sockets)[0]),
                                             [this](std::unique_ptr<net::Connection> c) {
                                               accepted_ = std::move(c);
                                               dispatcher_.exit();
                                             });
    ASSERT_TRUE(listener.ok());
    listener_ = std::move(*listener);
    client_ = net::Connection::connect(dispatcher_, bound_.get(), std::chrono::milliseconds(1000));
    auto safety = dispatcher_.createTimer([this] { dispatcher_.exit(); });
    safety->enable(std::chrono::milliseconds(5000));
    dispatcher_.run();
    ASSERT_NE(accepted_, nullptr);
    stats_ = std::make_unique<ClusterStats>(ClusterStats::create(registry_, "passthrough"));
    cluster_.name = "passthrough";
    cluster_.config.set_type(config::v1::Cluster::ORIGINAL_DST);
    cluster_.stats = stats_.get();
  }

  event::Dispatcher dispatcher_{"test"};
  stats::Registry registry_{1};
  std::unique_ptr<ClusterStats> stats_;
  ClusterInfo cluster_;
  net::SocketAddress bound_;
  std::unique_ptr<net::TcpListener> listener_;
  std::unique_ptr<net::Connection> client_;
  std::unique_ptr<net::Connection> accepted_;
};

TEST_F(OriginalDstHostTest, UnredirectedConnectionIsRefusedAndCounted) {
  EXPECT_EQ(originalDestinationHost(cluster_, *accepted_), nullptr);
  EXPECT_EQ(stats_->original_dst_refused.value(), 1u);
}

TEST_F(OriginalDstHostTest, RedirectedConnectionGoesToItsOriginalDestination) {
  auto original = net::parseIpAndPort("10.77.0.3", 8080);
  ASSERT_TRUE(original.ok());
  accepted_->setDestinationAddress(*original);
  HostSharedPtr host = originalDestinationHost(cluster_, *accepted_);
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->address, "10.77.0.3:8080");
  EXPECT_EQ(host->sockaddr_len, sizeof(sockaddr_in));
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&host->sockaddr);
  EXPECT_EQ(v4->sin_family, AF_INET);
  EXPECT_EQ(ntohs(v4->sin_port), 8080);
  EXPECT_EQ(stats_->original_dst_refused.value(), 0u);
}

TEST_F(OriginalDstHostTest, SameAddressAsV4MappedIsStillALoop) {
  // What a dual-stack listener would report for the same IPv4 endpoint.
  auto mapped = net::parseIpAndPort("::ffff:127.0.0.1", bound_.port());
  ASSERT_TRUE(mapped.ok());
  accepted_->setDestinationAddress(*mapped);
  EXPECT_EQ(originalDestinationHost(cluster_, *accepted_), nullptr);
  EXPECT_EQ(stats_->original_dst_refused.value(), 1u);
}

}  // namespace
}  // namespace skiff::upstream
