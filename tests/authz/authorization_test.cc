// Authorization policy evaluation: each matcher, rule order, the default action, TCP versus
// HTTP, plaintext callers and namespaces taken from the caller's SPIFFE identity.

#include "filters/authz/authorization.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "config/bootstrap_loader.h"
#include "gtest/gtest.h"
#include "tls/spiffe.h"

namespace skiff::filters::authz {
namespace {

constexpr char kFrontend[] = "spiffe://mesh.local/ns/shop/sa/frontend";
constexpr char kBilling[] = "spiffe://mesh.local/ns/finance/sa/billing";

AuthorizationPolicy compile(const std::string& yaml) {
  config::v1::AuthorizationPolicy policy;
  absl::Status status = config::yamlToMessage(yaml, policy);
  EXPECT_TRUE(status.ok()) << status;
  return AuthorizationPolicy(policy);
}

AuthorizationInput http(absl::string_view principal, absl::string_view method,
                        absl::string_view path, uint32_t port = 8080) {
  AuthorizationInput input;
  input.principal = principal;
  input.destination_port = port;
  input.is_http = true;
  input.method = method;
  input.path = path;
  return input;
}

AuthorizationInput tcp(absl::string_view principal, uint32_t port = 5432) {
  AuthorizationInput input;
  input.principal = principal;
  input.destination_port = port;
  return input;
}

TEST(AuthorizationTest, EmptyPolicyAllows) {
  AuthorizationPolicy policy = compile("{}");
  Decision decision = policy.evaluate(http("", "GET", "/"));
  EXPECT_TRUE(decision.allowed);
  EXPECT_EQ(decision.rule, -1);
}

TEST(AuthorizationTest, DefaultDenyWithoutRules) {
  AuthorizationPolicy policy = compile("default_action: DENY");
  EXPECT_FALSE(policy.evaluate(http(kFrontend, "GET", "/")).allowed);
  EXPECT_FALSE(policy.evaluate(tcp(kFrontend)).allowed);
}

TEST(AuthorizationTest, ExactPrincipal) {
  AuthorizationPolicy policy =
      compile(absl::StrCat("default_action: DENY\nrules: [{ principals: [\"", kFrontend, "\"] }]"));
  EXPECT_TRUE(policy.evaluate(http(kFrontend, "GET", "/")).allowed);
  EXPECT_FALSE(policy.evaluate(http(kBilling, "GET", "/")).allowed);
  // Exact means exact: a longer identity with the same start is someone else.
  EXPECT_FALSE(policy.evaluate(http(absl::StrCat(kFrontend, "2"), "GET", "/")).allowed);
}

TEST(AuthorizationTest, PrincipalPrefix) {
  AuthorizationPolicy policy =
      compile("default_action: DENY\nrules: [{ principals: [\"spiffe://mesh.local/ns/shop/*\"] }]");
  EXPECT_TRUE(policy.evaluate(tcp(kFrontend)).allowed);
  EXPECT_FALSE(policy.evaluate(tcp(kBilling)).allowed);
}

TEST(AuthorizationTest, StarMatchesAnyAuthenticatedCallerButNotPlaintext) {
  AuthorizationPolicy policy = compile("default_action: DENY\nrules: [{ principals: [\"*\"] }]");
  EXPECT_TRUE(policy.evaluate(tcp(kBilling)).allowed);
  EXPECT_FALSE(policy.evaluate(tcp("")).allowed);
}

TEST(AuthorizationTest, PlaintextCallerMatchesOnlyRulesWithoutIdentity) {
  AuthorizationPolicy policy = compile(
      "default_action: ALLOW\n"
      "rules: [{ action: DENY, principals: [\"spiffe://mesh.local/ns/shop/*\"] },"
      "        { action: DENY, namespaces: [shop] },"
      "        { action: DENY, ports: [9000] }]");
  // Neither identity rule can match a plaintext caller, so it is allowed on 8080...
  EXPECT_TRUE(policy.evaluate(http("", "GET", "/", 8080)).allowed);
  // ...and the port rule, which asks for no identity, still applies to it.
  Decision decision = policy.evaluate(http("", "GET", "/", 9000));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, 2);
}

TEST(AuthorizationTest, NamespaceFromTheIdentity) {
  AuthorizationPolicy policy = compile("default_action: DENY\nrules: [{ namespaces: [shop] }]");
  EXPECT_TRUE(policy.evaluate(tcp(kFrontend)).allowed);
  EXPECT_FALSE(policy.evaluate(tcp(kBilling)).allowed);
  // An identity without /ns/<ns>/sa/<sa> has no namespace.
  EXPECT_FALSE(policy.evaluate(tcp("spiffe://mesh.local/shop")).allowed);
  EXPECT_FALSE(policy.evaluate(tcp("spiffe://mesh.local/ns/shop")).allowed);
  EXPECT_EQ(namespaceOfPrincipal(kBilling), "finance");
  EXPECT_EQ(namespaceOfPrincipal("not a uri"), "");
}

TEST(AuthorizationTest, Ports) {
  AuthorizationPolicy policy = compile("default_action: DENY\nrules: [{ ports: [8080, 8443] }]");
  EXPECT_TRUE(policy.evaluate(tcp("", 8080)).allowed);
  EXPECT_TRUE(policy.evaluate(tcp(kFrontend, 8443)).allowed);
  EXPECT_FALSE(policy.evaluate(tcp(kFrontend, 9090)).allowed);
}

TEST(AuthorizationTest, MethodsAreCaseSensitive) {
  AuthorizationPolicy policy = compile("default_action: DENY\nrules: [{ methods: [GET, HEAD] }]");
  EXPECT_TRUE(policy.evaluate(http(kFrontend, "GET", "/")).allowed);
  EXPECT_TRUE(policy.evaluate(http(kFrontend, "HEAD", "/")).allowed);
  EXPECT_FALSE(policy.evaluate(http(kFrontend, "POST", "/")).allowed);
  EXPECT_FALSE(policy.evaluate(http(kFrontend, "get", "/")).allowed);
}

TEST(AuthorizationTest, PathsExactAndPrefixWithoutQuery) {
  AuthorizationPolicy policy =
      compile("default_action: DENY\nrules: [{ paths: [/health, \"/api/*\"] }]");
  EXPECT_TRUE(policy.evaluate(http("", "GET", "/health")).allowed);
  EXPECT_TRUE(policy.evaluate(http("", "GET", "/health?verbose=1")).allowed);
  EXPECT_FALSE(policy.evaluate(http("", "GET", "/healthz")).allowed);
  EXPECT_TRUE(policy.evaluate(http("", "GET", "/api/orders/7")).allowed);
  EXPECT_TRUE(policy.evaluate(http("", "GET", "/api/")).allowed);
  EXPECT_FALSE(policy.evaluate(http("", "GET", "/api")).allowed);
  // The query is cut before matching, so it cannot smuggle a matching prefix in.
  EXPECT_FALSE(policy.evaluate(http("", "GET", "/admin?x=/api/")).allowed);
}

TEST(AuthorizationTest, HttpRuleNeverMatchesTcp) {
  AuthorizationPolicy policy = compile(
      "default_action: DENY\n"
      "rules: [{ principals: [\"*\"], methods: [GET] }, { principals: [\"*\"], paths: [\"/*\"] }]");
  EXPECT_TRUE(policy.evaluate(http(kFrontend, "GET", "/x")).allowed);
  Decision decision = policy.evaluate(tcp(kFrontend));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.rule, -1);
}

TEST(AuthorizationTest, EveryFieldOfARuleMustMatch) {
  AuthorizationPolicy policy = compile(
      absl::StrCat("default_action: DENY\nrules: [{ principals: [\"", kFrontend,
                   "\"], namespaces: [shop], ports: [8080], methods: [POST], paths: [/orders] }]"));
  EXPECT_TRUE(policy.evaluate(http(kFrontend, "POST", "/orders", 8080)).allowed);
  EXPECT_FALSE(policy.evaluate(http(kFrontend, "POST", "/orders", 8081)).allowed);
  EXPECT_FALSE(policy.evaluate(http(kFrontend, "GET", "/orders", 8080)).allowed);
  EXPECT_FALSE(policy.evaluate(http(kFrontend, "POST", "/other", 8080)).allowed);
  EXPECT_FALSE(policy.evaluate(http(kBilling, "POST", "/orders", 8080)).allowed);
}

TEST(AuthorizationTest, FirstMatchingRuleDecides) {
  AuthorizationPolicy policy = compile(
      "default_action: ALLOW\n"
      "rules: [{ action: ALLOW, paths: [/admin/status] },"
      "        { action: DENY, paths: [\"/admin/*\"] },"
      "        { action: ALLOW, principals: [\"*\"] }]");
  Decision status = policy.evaluate(http("", "GET", "/admin/status"));
  EXPECT_TRUE(status.allowed);
  EXPECT_EQ(status.rule, 0);
  // Rule 2 would allow this authenticated caller, but rule 1 comes first.
  Decision admin = policy.evaluate(http(kFrontend, "GET", "/admin/users"));
  EXPECT_FALSE(admin.allowed);
  EXPECT_EQ(admin.rule, 1);
  Decision other = policy.evaluate(http(kFrontend, "GET", "/"));
  EXPECT_TRUE(other.allowed);
  EXPECT_EQ(other.rule, 2);
}

TEST(AuthorizationTest, DefaultDecidesWhenNothingMatches) {
  AuthorizationPolicy deny_default =
      compile("default_action: DENY\nrules: [{ action: ALLOW, namespaces: [shop] }]");
  EXPECT_EQ(deny_default.evaluate(tcp(kBilling)).rule, -1);
  EXPECT_FALSE(deny_default.evaluate(tcp(kBilling)).allowed);
  AuthorizationPolicy allow_default =
      compile("default_action: ALLOW\nrules: [{ action: DENY, namespaces: [finance] }]");
  EXPECT_TRUE(allow_default.evaluate(tcp(kFrontend)).allowed);
  EXPECT_FALSE(allow_default.evaluate(tcp(kBilling)).allowed);
}

TEST(AuthorizationTest, EmptyRuleMatchesEverything) {
  AuthorizationPolicy policy = compile("default_action: ALLOW\nrules: [{ action: DENY }]");
  EXPECT_FALSE(policy.evaluate(tcp("")).allowed);
  EXPECT_FALSE(policy.evaluate(http(kFrontend, "GET", "/")).allowed);
}

// The allocation-free namespace extraction must agree with the SPIFFE parser on what is a
// valid identity and what its namespace is.
TEST(AuthorizationTest, NamespaceExtractionAgreesWithTheSpiffeParser) {
  const std::string long_id =
      absl::StrCat("spiffe://td/ns/", std::string(2040, 'a'), "/sa/b");  // over 2048 bytes
  for (const std::string& id : {std::string("spiffe://mesh.local/ns/shop/sa/frontend"),
                                std::string("spiffe://td/ns/a/sa/b"),
                                std::string("spiffe://td/ns/A.b-c_d/sa/x"),
                                std::string("spiffe://td/ns/shop/sa/"),
                                std::string("spiffe://td/ns//sa/x"),
                                std::string("spiffe://td/ns/shop/sa/x/y"),
                                std::string("spiffe://td/ns/shop/sa"),
                                std::string("spiffe://td/ns/../sa/x"),
                                std::string("spiffe://td/ns/./sa/x"),
                                std::string("spiffe://TD/ns/shop/sa/x"),
                                std::string("spiffe://td:80/ns/shop/sa/x"),
                                std::string("spiffe://u@td/ns/shop/sa/x"),
                                std::string("spiffe:///ns/shop/sa/x"),
                                std::string("SPIFFE://td/ns/shop/sa/x"),
                                std::string("spiffe://td/ns/sh op/sa/x"),
                                std::string("spiffe://td/ns/shop/sa/x?y"),
                                std::string("spiffe://td/ns/shop/sa/x#y"),
                                std::string("spiffe://td/sa/shop/ns/x"),
                                std::string("spiffe://td"),
                                std::string("spiffe://td/"),
                                std::string(""),
                                std::string("https://td/ns/shop/sa/x"),
                                long_id}) {
    absl::StatusOr<tls::SpiffeId> parsed = tls::parseSpiffeId(id);
    const std::string expected = parsed.ok() ? parsed->namespace_name : "";
    EXPECT_EQ(std::string(namespaceOfPrincipal(id)), expected) << id;
  }
}

}  // namespace
}  // namespace skiff::filters::authz
