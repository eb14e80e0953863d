#include "upstream/host.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "gtest/gtest.h"

namespace skiff::upstream {
namespace {

TEST(MakeHostTest, Ipv4) {
  auto host = makeHost("10.1.2.3", 8080, 5, "svc.local");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ((*host)->address, "10.1.2.3:8080");
  EXPECT_EQ((*host)->weight, 5u);
  EXPECT_EQ((*host)->hostname, "svc.local");
  ASSERT_EQ((*host)->sockaddr_len, sizeof(sockaddr_in));
  const auto* addr = reinterpret_cast<const sockaddr_in*>(&(*host)->sockaddr);
  EXPECT_EQ(addr->sin_family, AF_INET);
  EXPECT_EQ(ntohs(addr->sin_port), 8080);
  EXPECT_EQ(ntohl(addr->sin_addr.s_addr), 0x0A010203u);
  EXPECT_EQ((*host)->active_requests.load(), 0u);
}

TEST(MakeHostTest, Ipv6IsBracketedAndCanonical) {
  auto host = makeHost("0:0::1", 80, 1);
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ((*host)->address, "[::1]:80");
  ASSERT_EQ((*host)->sockaddr_len, sizeof(sockaddr_in6));
  const auto* addr = reinterpret_cast<const sockaddr_in6*>(&(*host)->sockaddr);
  EXPECT_EQ(addr->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(addr->sin6_port), 80);
  EXPECT_EQ(addr->sin6_addr.s6_addr[15], 1);
  EXPECT_TRUE((*host)->hostname.empty());

  auto bracketed = makeHost("[2001:db8::2]", 443, 1);
  ASSERT_TRUE(bracketed.ok());
  EXPECT_EQ((*bracketed)->address, "[2001:db8::2]:443");
}

TEST(MakeHostTest, ZeroWeightIsOne) {
  auto host = makeHost("127.0.0.1", 1, 0);
  ASSERT_TRUE(host.ok());
  EXPECT_EQ((*host)->weight, 1u);
}

TEST(MakeHostTest, RejectsNames) {
  for (const char* bad : {"localhost", "1.2.3", "1.2.3.4.5", "", "::g", "[1.2.3.4]x"}) {
    auto host = makeHost(bad, 80, 1);
    EXPECT_FALSE(host.ok()) << bad;
    EXPECT_EQ(host.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace skiff::upstream
