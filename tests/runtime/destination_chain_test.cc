// Destination chains compiled from a listener, the choice among them by a connection's original
// destination, and the destination an accepted connection reports when nothing redirected it.

#include "server/destination_chain.h"

#include <memory>
#include <string>

#include "event/dispatcher.h"
#include "gtest/gtest.h"
#include "net/listener.h"
#include "net/original_destination.h"
#include "server/listener_settings.h"

namespace skiff::server {
namespace {

net::SocketAddress at(const std::string& ip, uint16_t port) {
  auto address = net::parseIpAndPort(ip, port);
  EXPECT_TRUE(address.ok()) << address.status();
  return *address;
}

config::v1::DestinationChain chain(const std::string& name, std::vector<std::string> addresses,
                                   uint32_t port, const std::string& cluster) {
  config::v1::DestinationChain out;
  out.set_name(name);
  for (const auto& address : addresses) out.add_addresses(address);
  out.set_port(port);
  out.mutable_tcp_proxy()->set_cluster(cluster);
  return out;
}

class DestinationChainTest : public ::testing::Test {
 protected:
  ListenerSettingsConstSharedPtr build(const config::v1::Listener& listener) {
    auto settings = buildListenerSettings(listener, nullptr, sinks_);
    EXPECT_TRUE(settings.ok()) << settings.status();
    return settings.ok() ? *settings : nullptr;
  }

  // The name of the chain chosen for ip:port, or "" when the listener's own handler applies.
  static std::string chosen(const ListenerSettings& settings, const std::string& ip,
                            uint16_t port) {
    const DestinationChain* c = selectDestinationChain(settings.destination_chains, at(ip, port));
    return c == nullptr ? "" : c->name;
  }

  AccessLogSinks sinks_;
};

TEST_F(DestinationChainTest, FirstMatchingChainWinsElseTheListenerHandler) {
  config::v1::Listener listener;
  listener.set_name("outbound");
  listener.set_use_original_dst(true);
  listener.mutable_tcp_proxy()->set_cluster("passthrough");
  *listener.add_destination_chains() = chain("db", {"10.77.0.3"}, 5432, "db-cluster");
  *listener.add_destination_chains() = chain("services", {"10.96.0.0/12", "fd77::/64"}, 0, "svc");
  *listener.add_destination_chains() = chain("redis-anywhere", {}, 6379, "redis");
  auto settings = build(listener);
  ASSERT_NE(settings, nullptr);
  EXPECT_TRUE(settings->use_original_dst);
  ASSERT_EQ(settings->destination_chains.size(), 3u);
  EXPECT_EQ(settings->destination_chains[0].tcp->cluster, "db-cluster");
  EXPECT_EQ(settings->destination_chains[0].tcp->listener_name, "outbound");

  EXPECT_EQ(chosen(*settings, "10.77.0.3", 5432), "db");
  EXPECT_EQ(chosen(*settings, "10.77.0.3", 5433), "");         // port must match
  EXPECT_EQ(chosen(*settings, "10.77.0.4", 5432), "");         // address must match
  EXPECT_EQ(chosen(*settings, "10.100.1.1", 80), "services");  // any port in the range
  EXPECT_EQ(chosen(*settings, "fd77::9", 443), "services");
  EXPECT_EQ(chosen(*settings, "fd78::9", 443), "");
  EXPECT_EQ(chosen(*settings, "192.168.1.1", 6379), "redis-anywhere");
  EXPECT_EQ(chosen(*settings, "::ffff:10.77.0.3", 5432), "db");  // dual-stack socket's view
  // Order decides: 10.96.0.5:6379 matches both "services" and "redis-anywhere".
  EXPECT_EQ(chosen(*settings, "10.96.0.5", 6379), "services");
}

TEST_F(DestinationChainTest, EmptyAddressListAndPortZeroMatchEverything) {
  config::v1::Listener listener;
  listener.set_name("l");
  listener.set_use_original_dst(true);
  listener.mutable_tcp_proxy()->set_cluster("x");
  *listener.add_destination_chains() = chain("all", {}, 0, "everything");
  auto settings = build(listener);
  ASSERT_NE(settings, nullptr);
  EXPECT_EQ(chosen(*settings, "1.2.3.4", 1), "all");
  EXPECT_EQ(chosen(*settings, "::1", 65535), "all");
  // An unknown destination (no address at all) matches nothing.
  EXPECT_EQ(selectDestinationChain(settings->destination_chains, net::SocketAddress{}), nullptr);
}

TEST_F(DestinationChainTest, BadAddressIsAnErrorNamingTheChain) {
  config::v1::Listener listener;
  listener.set_name("l");
  listener.mutable_tcp_proxy()->set_cluster("x");
  *listener.add_destination_chains() = chain("ok", {"10.0.0.1"}, 0, "a");
  *listener.add_destination_chains() = chain("bad", {"10.0.0.1", "10.0.0.0/99"}, 0, "b");
  auto settings = buildListenerSettings(listener, nullptr, sinks_);
  ASSERT_FALSE(settings.ok());
  EXPECT_NE(std::string(settings.status().message()).find("destination_chains[1].addresses[1]"),
            std::string::npos)
      << settings.status();
}

TEST(SameEndpointTest, ComparesIpAndPortAcrossV4MappedForms) {
  EXPECT_TRUE(net::sameEndpoint(at("10.0.0.1", 80), at("10.0.0.1", 80)));
  EXPECT_TRUE(net::sameEndpoint(at("::ffff:10.0.0.1", 80), at("10.0.0.1", 80)));
  EXPECT_FALSE(net::sameEndpoint(at("10.0.0.1", 80), at("10.0.0.1", 81)));
  EXPECT_FALSE(net::sameEndpoint(at("10.0.0.1", 80), at("10.0.0.2", 80)));
  EXPECT_FALSE(net::sameEndpoint(at("::1", 80), at("127.0.0.1", 80)));
  EXPECT_FALSE(net::sameEndpoint(net::SocketAddress{}, net::SocketAddress{}));
}

// Without an iptables REDIRECT there is no original destination to read: the connection's
// destination stays the address it was accepted on, which is how ORIGINAL_DST spots a loop.
TEST(OriginalDestinationTest, UnredirectedConnectionKeepsItsLocalAddress) {
  event::Dispatcher dispatcher("test");
  auto sockets = net::bindReusePortSockets(at("127.0.0.1", 0), 1);
  ASSERT_TRUE(sockets.ok()) << sockets.status();
  net::SocketAddress bound = (*sockets)[0].boundAddress();
  std::unique_ptr<net::Connection> accepted;
  auto listener = net::TcpListener::create(dispatcher, std::move((*sockets)[0]),
                                           [&](std::unique_ptr<net::Connection> c) {
                                             accepted = std::move(c);
                                             dispatcher.exit();
                                           });
  ASSERT_TRUE(listener.ok());
  auto client = net::Connection::connect(dispatcher, bound.get(), std::chrono::milliseconds(1000));
  auto safety = dispatcher.createTimer([&] { dispatcher.exit(); });
  safety->enable(std::chrono::milliseconds(5000));
  dispatcher.run();
  ASSERT_NE(accepted, nullptr);
  EXPECT_GE(accepted->fd(), 0);
  EXPECT_EQ(accepted->localAddress().toString(), bound.toString());
  EXPECT_EQ(accepted->destinationAddress().toString(), bound.toString());
  net::recordOriginalDestination(*accepted);
  // Either no NAT entry (nullopt) or conntrack's untranslated tuple: the same address.
  EXPECT_EQ(accepted->destinationAddress().toString(), bound.toString());
  auto original = net::originalDestination(accepted->fd(), AF_INET);
  if (original) EXPECT_EQ(original->toString(), bound.toString());
  EXPECT_FALSE(net::originalDestination(-1, AF_INET).has_value());
  EXPECT_FALSE(net::originalDestination(accepted->fd(), AF_UNIX).has_value());
}

}  // namespace
}  // namespace skiff::server
