// Route matching within a virtual host: path specifiers, order, headers, query parameters.

#include "route_test_util.h"
#include "router/route_matcher.h"
#include "router/route_table.h"

namespace skiff::router {
namespace {

using testing::makeTable;
using testing::request;
using testing::routed;

std::shared_ptr<const RouteTable> tableWithRoutes(const std::string& routes) {
  return makeTable("virtual_hosts { name: 'vh' domains: '*' " + routes + " }");
}

TEST(RouteMatchTest, PrefixIsCaseSensitiveAndIgnoresQuery) {
  auto table =
      tableWithRoutes("routes { name: 'api' match { prefix: '/api' } route { cluster: 'c' } }");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(routed(*table, request("h", "/api")), "api");
  EXPECT_EQ(routed(*table, request("h", "/api/v1/users")), "api");
  EXPECT_EQ(routed(*table, request("h", "/apix")), "api");
  EXPECT_EQ(routed(*table, request("h", "/API")), "<none>");
  EXPECT_EQ(routed(*table, request("h", "/x?q=/api")), "<none>");
}

TEST(RouteMatchTest, ExactPathWithoutQuery) {
  auto table = tableWithRoutes(
      "routes { name: 'health' match { path: '/healthz' } route { cluster: 'c' } }");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(routed(*table, request("h", "/healthz")), "health");
  EXPECT_EQ(routed(*table, request("h", "/healthz?verbose=1")), "health");
  EXPECT_EQ(routed(*table, request("h", "/healthz/")), "<none>");
  EXPECT_EQ(routed(*table, request("h", "/health")), "<none>");
}

TEST(RouteMatchTest, RegexIsAFullMatchOnPathWithoutQuery) {
  auto table = tableWithRoutes(
      R"(routes { name: 'user' match { safe_regex: '/users/[0-9]+' } route { cluster: 'c' } })");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(routed(*table, request("h", "/users/42")), "user");
  EXPECT_EQ(routed(*table, request("h", "/users/42?x=1")), "user");
  EXPECT_EQ(routed(*table, request("h", "/users/42/posts")), "<none>");
  EXPECT_EQ(routed(*table, request("h", "/v1/users/42")), "<none>");
}

TEST(RouteMatchTest, FirstMatchWinsInOrder) {
  auto table = tableWithRoutes(R"(
    routes { name: 'exact' match { path: '/api/special' } route { cluster: 'c' } }
    routes { name: 'api' match { prefix: '/api/' } route { cluster: 'c' } }
    routes { name: 'special_too_late' match { path: '/api/other' } route { cluster: 'c' } }
    routes { name: 'all' match { prefix: '/' } route { cluster: 'c' } })");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(routed(*table, request("h", "/api/special")), "exact");
  EXPECT_EQ(routed(*table, request("h", "/api/other")), "api");
  EXPECT_EQ(routed(*table, request("h", "/other")), "all");
}

TEST(RouteMatchTest, MissingPathSpecifierMatchesEverything) {
  auto table = tableWithRoutes("routes { name: 'any' route { cluster: 'c' } }");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(routed(*table, request("h", "/whatever")), "any");
}

class HeaderMatchTest : public ::testing::Test {
 protected:
  // One route guarded by `matcher`, then a fallback.
  std::string route(const std::string& matcher, const http::RequestHead& head) {
    auto table = tableWithRoutes("routes { name: 'hit' match { prefix: '/' headers { " + matcher +
                                 " } } route { cluster: 'c' } }");
    EXPECT_NE(table, nullptr);
    return table == nullptr ? "<bad>" : routed(*table, head);
  }
  http::RequestHead withHeader(const std::string& name, const std::string& value) {
    http::RequestHead head = request("h", "/");
    head.headers.add(name, value);
    return head;
  }
};

TEST_F(HeaderMatchTest, Exact) {
  EXPECT_EQ(route("name: 'x-env' exact_match: 'canary'", withHeader("x-env", "canary")), "hit");
  EXPECT_EQ(route("name: 'x-env' exact_match: 'canary'", withHeader("x-env", "canary2")), "<none>");
  EXPECT_EQ(route("name: 'x-env' exact_match: 'canary'", request("h", "/")), "<none>");
}

TEST_F(HeaderMatchTest, NameIsCaseInsensitive) {
  EXPECT_EQ(route("name: 'X-Env' exact_match: 'canary'", withHeader("x-env", "canary")), "hit");
}

TEST_F(HeaderMatchTest, Prefix) {
  EXPECT_EQ(route("name: 'user-agent' prefix_match: 'curl/'", withHeader("user-agent", "curl/8")),
            "hit");
  EXPECT_EQ(route("name: 'user-agent' prefix_match: 'curl/'", withHeader("user-agent", "wget")),
            "<none>");
}

TEST_F(HeaderMatchTest, RegexIsFullMatch) {
  EXPECT_EQ(route("name: 'x-id' safe_regex_match: '[a-f0-9]{4}'", withHeader("x-id", "beef")),
            "hit");
  EXPECT_EQ(route("name: 'x-id' safe_regex_match: '[a-f0-9]{4}'", withHeader("x-id", "beefy")),
            "<none>");
}

TEST_F(HeaderMatchTest, Present) {
  EXPECT_EQ(route("name: 'x-debug' present_match: true", withHeader("x-debug", "")), "hit");
  EXPECT_EQ(route("name: 'x-debug' present_match: true", request("h", "/")), "<none>");
  EXPECT_EQ(route("name: 'x-debug' present_match: false", request("h", "/")), "hit");
  EXPECT_EQ(route("name: 'x-debug' present_match: false", withHeader("x-debug", "1")), "<none>");
  // No specifier at all: a presence test.
  EXPECT_EQ(route("name: 'x-debug'", withHeader("x-debug", "1")), "hit");
  EXPECT_EQ(route("name: 'x-debug'", request("h", "/")), "<none>");
}

TEST_F(HeaderMatchTest, Invert) {
  const std::string matcher = "name: 'x-env' exact_match: 'prod' invert_match: true";
  EXPECT_EQ(route(matcher, withHeader("x-env", "prod")), "<none>");
  EXPECT_EQ(route(matcher, withHeader("x-env", "dev")), "hit");
  EXPECT_EQ(route(matcher, request("h", "/")), "hit");
  EXPECT_EQ(route("name: 'x-debug' present_match: true invert_match: true", request("h", "/")),
            "hit");
}

TEST_F(HeaderMatchTest, PseudoHeaders) {
  EXPECT_EQ(route("name: 'host' exact_match: 'api.local'", request("api.local", "/")), "hit");
  EXPECT_EQ(route("name: ':authority' prefix_match: 'api.'", request("api.local", "/")), "hit");
  EXPECT_EQ(route("name: 'Host' exact_match: 'api.local'", request("web.local", "/")), "<none>");
  EXPECT_EQ(route("name: ':method' exact_match: 'POST'", request("h", "/", "POST")), "hit");
  EXPECT_EQ(route("name: ':method' exact_match: 'POST'", request("h", "/", "GET")), "<none>");
  EXPECT_EQ(route("name: ':path' safe_regex_match: '/a\\\\?.*'", request("h", "/a?b=1")), "hit");
}

TEST_F(HeaderMatchTest, AllHeaderMatchersMustMatch) {
  auto table = tableWithRoutes(R"(
    routes { name: 'both' match { prefix: '/' headers { name: 'a' exact_match: '1' }
                                                headers { name: 'b' exact_match: '2' } }
             route { cluster: 'c' } })");
  ASSERT_NE(table, nullptr);
  http::RequestHead head = request("h", "/");
  head.headers.add("a", "1");
  EXPECT_EQ(routed(*table, head), "<none>");
  head.headers.add("b", "2");
  EXPECT_EQ(routed(*table, head), "both");
}

class QueryMatchTest : public ::testing::Test {
 protected:
  std::string route(const std::string& matcher, const std::string& path) {
    auto table = tableWithRoutes("routes { name: 'hit' match { prefix: '/' query_parameters { " +
                                 matcher + " } } route { cluster: 'c' } }");
    EXPECT_NE(table, nullptr);
    return table == nullptr ? "<bad>" : routed(*table, request("h", path));
  }
};

TEST_F(QueryMatchTest, Exact) {
  EXPECT_EQ(route("name: 'v' exact_match: '2'", "/p?a=1&v=2&b"), "hit");
  EXPECT_EQ(route("name: 'v' exact_match: '2'", "/p?v=20"), "<none>");
  EXPECT_EQ(route("name: 'v' exact_match: '2'", "/p?vv=2"), "<none>");
  EXPECT_EQ(route("name: 'v' exact_match: '2'", "/p"), "<none>");
  // The first '=' separates name and value.
  EXPECT_EQ(route("name: 'v' exact_match: 'a=b'", "/p?v=a=b"), "hit");
}

TEST_F(QueryMatchTest, FirstOccurrenceCounts) {
  EXPECT_EQ(route("name: 'v' exact_match: '1'", "/p?v=1&v=2"), "hit");
  EXPECT_EQ(route("name: 'v' exact_match: '2'", "/p?v=1&v=2"), "<none>");
}

TEST_F(QueryMatchTest, Prefix) {
  EXPECT_EQ(route("name: 'tag' prefix_match: 'beta'", "/p?tag=beta-7"), "hit");
  EXPECT_EQ(route("name: 'tag' prefix_match: 'beta'", "/p?tag=alpha"), "<none>");
}

TEST_F(QueryMatchTest, Regex) {
  EXPECT_EQ(route("name: 'id' safe_regex_match: '[0-9]+'", "/p?id=123"), "hit");
  EXPECT_EQ(route("name: 'id' safe_regex_match: '[0-9]+'", "/p?id=123x"), "<none>");
}

TEST_F(QueryMatchTest, Present) {
  EXPECT_EQ(route("name: 'debug' present_match: true", "/p?debug"), "hit");
  EXPECT_EQ(route("name: 'debug' present_match: true", "/p?debug="), "hit");
  EXPECT_EQ(route("name: 'debug' present_match: true", "/p?x=debug"), "<none>");
  EXPECT_EQ(route("name: 'debug' present_match: false", "/p?x=1"), "hit");
  EXPECT_EQ(route("name: 'debug' present_match: false", "/p?debug=1"), "<none>");
}

TEST_F(QueryMatchTest, PercentDecoding) {
  EXPECT_EQ(route("name: 'q' exact_match: 'a b/c'", "/p?q=a%20b%2Fc"), "hit");
  EXPECT_EQ(route("name: 'my key' exact_match: '1'", "/p?my%20key=1"), "hit");
}

TEST(PercentDecodeTest, MalformedEscapesStay) {
  EXPECT_EQ(percentDecode("100%"), "100%");
  EXPECT_EQ(percentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(percentDecode("%41%62+"), "Ab+");
}

}  // namespace
}  // namespace skiff::router
