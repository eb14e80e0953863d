// A listener's `authorization` is validated like every other field: each mistake is reported
// with the path of the field at fault, for static listeners and discovery resources alike.

#include <string>

#include "absl/strings/str_cat.h"
#include "config/authorization_checks.h"
#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::config {
namespace {

using ::testing::HasSubstr;

// A static HTTP listener (or TCP with `tcp`) guarded by `authorization` (flow-style YAML).
std::string withAuthorization(const std::string& authorization, bool tcp = false) {
  const std::string handler =
      tcp ? "tcp_proxy: { cluster: backend }"
          : "http: { route_config: { virtual_hosts: [{ name: all, domains: [\"*\"], routes: "
            "[{ match: { prefix: / }, route: { cluster: backend } }] }] } }";
  return absl::StrCat(
      "static_resources:\n"
      "  listeners:\n"
      "    - name: inbound\n"
      "      address: { address: 127.0.0.1, port: 15006 }\n"
      "      ",
      handler, "\n      authorization: ", authorization,
      "\n  clusters:\n"
      "    - { name: backend, endpoints: [{ address: { address: 127.0.0.1, port: 8080 } }] }\n");
}

std::string errorOf(const std::string& yaml) {
  absl::StatusOr<v1::Bootstrap> result = parseBootstrapYaml(yaml);
  if (result.ok()) return "(accepted)";
  return std::string(result.status().message());
}

constexpr char kRule0[] = "static_resources.listeners[0].authorization.rules[0]";

TEST(AuthorizationValidationTest, ValidPolicyIsAccepted) {
  EXPECT_EQ(errorOf(withAuthorization(
                "{ default_action: DENY, rules: ["
                "{ principals: [\"spiffe://mesh.local/ns/shop/sa/frontend\", "
                "\"spiffe://mesh.local/ns/ops/*\", \"*\"], namespaces: [shop], ports: [8080], "
                "methods: [GET, PURGE], paths: [/health, \"/api/*\"] },"
                "{ action: DENY }] }")),
            "(accepted)");
  EXPECT_EQ(errorOf(withAuthorization("{ rules: [{ principals: [\"spiffe://*\"] }] }", true)),
            "(accepted)");
}

TEST(AuthorizationValidationTest, PrincipalMustBeSpiffe) {
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ principals: [frontend] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".principals[0]: \"frontend\" is not a SPIFFE ID")));
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ principals: [\"spiffe://a/*/sa/b\"] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".principals[0]: \"*\" may only end")));
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ principals: [\"\"] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".principals[0]: must not be empty")));
}

TEST(AuthorizationValidationTest, MethodMustBeUpperCase) {
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ methods: [GET, post] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".methods[1]: \"post\" must be upper case")));
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ methods: [\"GE T\"] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".methods[0]: \"GE T\" is not an HTTP method")));
}

TEST(AuthorizationValidationTest, PathMustStartWithSlash) {
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ paths: [api] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".paths[0]: \"api\" must start with \"/\"")));
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ paths: [\"/a?b=1\"] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".paths[0]: \"/a?b=1\": the query string")));
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ paths: [\"/*/x\"] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".paths[0]: \"*\" may only end a path")));
}

TEST(AuthorizationValidationTest, PortsAndNamespaces) {
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ ports: [80, 0] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".ports[1]: 0 is out of range")));
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ ports: [70000] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".ports[0]: 70000 is out of range")));
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ namespaces: [Shop] }] }")),
              HasSubstr(absl::StrCat(kRule0, ".namespaces[0]: \"Shop\" is not a namespace")));
}

TEST(AuthorizationValidationTest, HttpRuleOnTcpListenerIsAnError) {
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ methods: [GET] }] }", /*tcp=*/true)),
              HasSubstr(absl::StrCat(kRule0, ".methods: a TCP connection has no method")));
  EXPECT_THAT(errorOf(withAuthorization("{ rules: [{ paths: [/] }] }", /*tcp=*/true)),
              HasSubstr(absl::StrCat(kRule0, ".paths: a TCP connection has no method")));
}

TEST(AuthorizationValidationTest, UnknownActionNumberFromTheStream) {
  v1::Listener listener;
  listener.set_name("inbound");
  listener.mutable_address()->set_address("127.0.0.1");
  listener.mutable_address()->set_port(15006);
  listener.mutable_tcp_proxy()->set_cluster("backend");
  listener.mutable_authorization()->set_default_action(
      static_cast<v1::AuthorizationPolicy::Action>(7));
  absl::Status status = validateListenerResource(listener);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("listener \"inbound\": authorization.default_action: 7 is not ALLOW or "
                        "DENY"));
}

TEST(AuthorizationValidationTest, RuleErrorsKeepTheCallersPath) {
  v1::AuthorizationRule rule;
  rule.add_methods("get");
  FieldErrors errors = authorizationRuleErrors(rule, "authorization_policies[3].rules[1]", false);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, "authorization_policies[3].rules[1].methods[0]");
}

}  // namespace
}  // namespace skiff::config
