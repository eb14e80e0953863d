// Virtual host selection by authority.

#include "route_test_util.h"
#include "router/route_table.h"

namespace skiff::router {
namespace {

using testing::makeTable;
using testing::request;
using testing::routed;

// Each virtual host has one catch-all route named after the virtual host.
std::string vhost(const std::string& name, const std::vector<std::string>& domains) {
  std::string text = "virtual_hosts { name: '" + name + "' ";
  for (const auto& domain : domains) text += "domains: '" + domain + "' ";
  text += "routes { name: '" + name + "' match { prefix: '/' } route { cluster: 'c' } } }\n";
  return text;
}

class DomainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = makeTable(
        vhost("exact", {"api.example.com", "Mixed.Case.COM"}) + vhost("suffix", {"*.example.com"}) +
        vhost("longer_suffix", {"*.eu.example.com"}) + vhost("prefix", {"api.*"}) +
        vhost("longer_prefix", {"api.internal.*"}) + vhost("ported", {"ported.local:8080"}) +
        vhost("plain", {"ported.local"}) + vhost("v6", {"[::1]"}) + vhost("default", {"*"}));
    ASSERT_NE(table_, nullptr);
  }
  std::string route(const std::string& authority) {
    return routed(*table_, request(authority, "/"));
  }
  std::shared_ptr<const RouteTable> table_;
};

TEST_F(DomainTest, ExactMatchBeatsWildcards) {
  EXPECT_EQ(route("api.example.com"), "exact");  // also matches *.example.com and api.*
}

TEST_F(DomainTest, CaseInsensitive) {
  EXPECT_EQ(route("API.Example.Com"), "exact");
  EXPECT_EQ(route("mixed.case.com"), "exact");
  EXPECT_EQ(route("WWW.EXAMPLE.COM"), "suffix");
}

TEST_F(DomainTest, LongestSuffixWildcard) {
  EXPECT_EQ(route("www.example.com"), "suffix");
  EXPECT_EQ(route("a.b.example.com"), "suffix");
  EXPECT_EQ(route("www.eu.example.com"), "longer_suffix");
}

TEST_F(DomainTest, SuffixWildcardNeedsALabel) {
  EXPECT_EQ(route("example.com"), "default");
  EXPECT_EQ(route("eu.example.com"), "suffix");
}

TEST_F(DomainTest, SuffixBeatsPrefixWildcard) {
  EXPECT_EQ(route("api.other.example.com"), "suffix");
}

TEST_F(DomainTest, LongestPrefixWildcard) {
  EXPECT_EQ(route("api.foo"), "prefix");
  EXPECT_EQ(route("api.internal.foo"), "longer_prefix");
  EXPECT_EQ(route("api."), "default");  // the '*' must cover something
}

TEST_F(DomainTest, CatchAll) { EXPECT_EQ(route("unknown.org"), "default"); }

TEST_F(DomainTest, PortIsIgnoredWhenNoDomainNamesIt) {
  EXPECT_EQ(route("api.example.com:8443"), "exact");
  EXPECT_EQ(route("www.example.com:80"), "suffix");
  EXPECT_EQ(route("api.foo:80"), "prefix");
}

TEST_F(DomainTest, DomainWithPortMatchesFirst) {
  EXPECT_EQ(route("ported.local:8080"), "ported");
  EXPECT_EQ(route("ported.local:9090"), "plain");
  EXPECT_EQ(route("ported.local"), "plain");
}

TEST_F(DomainTest, Ipv6Authority) {
  EXPECT_EQ(route("[::1]:8080"), "v6");
  EXPECT_EQ(route("[::1]"), "v6");
}

TEST(DomainNoDefaultTest, NoVirtualHostIsNull) {
  auto table = makeTable(vhost("only", {"only.local", "*.only.local"}));
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->match(request("other.local", "/")), nullptr);
  EXPECT_EQ(table->match(request("", "/")), nullptr);
  EXPECT_EQ(routed(*table, request("x.only.local:80", "/")), "only");
}

TEST(DomainNoDefaultTest, EqualLengthWildcardsKeepConfigOrder) {
  auto table = makeTable(vhost("first", {"*.aa.com"}) + vhost("second", {"*.bb.com"}));
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(routed(*table, request("x.aa.com", "/")), "first");
  EXPECT_EQ(routed(*table, request("x.bb.com", "/")), "second");
}

TEST(DomainNoDefaultTest, WildcardWithPort) {
  auto table = makeTable(vhost("ported", {"*.svc.local:8080"}) + vhost("plain", {"*.local"}));
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(routed(*table, request("a.svc.local:8080", "/")), "ported");
  EXPECT_EQ(routed(*table, request("a.svc.local:9090", "/")), "plain");
  EXPECT_EQ(routed(*table, request("a.svc.local", "/")), "plain");
}

TEST(DomainNoDefaultTest, VeryLongAuthority) {
  const std::string label(300, 'a');
  auto table = makeTable(vhost("long", {label + ".com"}) + vhost("wild", {"*.com"}));
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(routed(*table, request(label + ".COM", "/")), "long");
  EXPECT_EQ(routed(*table, request(label + "b.com:80", "/")), "wild");
}

}  // namespace
}  // namespace skiff::router
