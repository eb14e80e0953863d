#include "common/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "gtest/gtest.h"

namespace skiff {
namespace {

sockaddr_storage address(const std::string& ip) {
  sockaddr_storage out{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
  }
  return out;
}

bool contains(const std::string& range, const std::string& ip) {
  auto parsed = CidrRange::parse(range);
  EXPECT_TRUE(parsed.ok()) << range << ": " << parsed.status();
  sockaddr_storage storage = address(ip);
  return parsed.ok() && parsed->contains(reinterpret_cast<const sockaddr*>(&storage));
}

TEST(CidrRangeTest, SingleAddressIsAFullLengthPrefix) {
  auto range = CidrRange::parse("10.0.0.2");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->toString(), "10.0.0.2/32");
  EXPECT_TRUE(contains("10.0.0.2", "10.0.0.2"));
  EXPECT_FALSE(contains("10.0.0.2", "10.0.0.3"));
  EXPECT_EQ(CidrRange::parse("::1")->toString(), "::1/128");
}

TEST(CidrRangeTest, Ipv4Prefixes) {
  EXPECT_TRUE(contains("10.96.0.0/12", "10.96.0.1"));
  EXPECT_TRUE(contains("10.96.0.0/12", "10.111.255.255"));
  EXPECT_FALSE(contains("10.96.0.0/12", "10.112.0.0"));
  EXPECT_FALSE(contains("10.96.0.0/12", "10.95.255.255"));
  EXPECT_TRUE(contains("0.0.0.0/0", "192.168.1.1"));
  // Not byte aligned at the last bit.
  EXPECT_TRUE(contains("192.168.1.128/25", "192.168.1.200"));
  EXPECT_FALSE(contains("192.168.1.128/25", "192.168.1.127"));
}

TEST(CidrRangeTest, HostBitsAreMasked) {
  auto range = CidrRange::parse("10.77.0.9/24");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->toString(), "10.77.0.0/24");
  EXPECT_TRUE(contains("10.77.0.9/24", "10.77.0.200"));
}

TEST(CidrRangeTest, Ipv6Prefixes) {
  EXPECT_TRUE(contains("fd77::/64", "fd77::5"));
  EXPECT_FALSE(contains("fd77::/64", "fd77:0:0:1::5"));
  EXPECT_TRUE(contains("::/0", "2001:db8::1"));
  EXPECT_TRUE(contains("2001:db8::/33", "2001:db8:7fff::1"));
  EXPECT_FALSE(contains("2001:db8::/33", "2001:db8:8000::1"));
}

TEST(CidrRangeTest, FamiliesDoNotMixButV4MappedMatchesAsIpv4) {
  EXPECT_FALSE(contains("0.0.0.0/0", "::1"));
  EXPECT_FALSE(contains("::/0", "10.0.0.1"));
  EXPECT_TRUE(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
  EXPECT_FALSE(contains("10.0.0.0/8", "::ffff:11.1.2.3"));
}

TEST(CidrRangeTest, RejectsWhatIsNotARange) {
  for (const char* bad : {"", "10.0.0", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/+8",
                          "10.0.0.0/ 8", "10.0.0.0/8/8", "host.example", "[::1]", "10.0.0.1:80"}) {
    EXPECT_FALSE(CidrRange::parse(bad).ok()) << bad;
  }
  auto error = CidrRange::parse("10.0.0.0/33");
  EXPECT_NE(std::string(error.status().message()).find("out of range"), std::string::npos);
}

TEST(CidrRangeTest, NonIpFamiliesNeverMatch) {
  auto range = CidrRange::parse("0.0.0.0/0");
  ASSERT_TRUE(range.ok());
  sockaddr_storage unspec{};
  EXPECT_FALSE(range->contains(reinterpret_cast<const sockaddr*>(&unspec)));
  EXPECT_FALSE(range->contains(nullptr));
}

}  // namespace
}  // namespace skiff
