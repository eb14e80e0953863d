#pragma once

// Authorization policy (config::v1::AuthorizationPolicy) compiled once on the main thread and
// evaluated per TCP connection or per HTTP request on the workers: read-only, no allocation on
// the common path. Rules are tried in order; the first that matches decides; with no match the
// policy's default action decides. See docs/authorization.md.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "skiff/config/v1/authorization.pb.h"

namespace skiff::filters::authz {

// What a decision is made on. The views must outlive the evaluate() call only.
struct AuthorizationInput {
  // The caller's verified SPIFFE identity; empty for a plaintext caller.
  absl::string_view principal;
  // The connection's destination port (its original destination with use_original_dst, else
  // the listener's port).
  uint32_t destination_port = 0;
  // False for a TCP connection: rules with methods or paths never match it.
  bool is_http = false;
  absl::string_view method;
  // The request path; a query string ("?...") is ignored.
  absl::string_view path;
};

struct Decision {
  bool allowed = true;
  // Index of the rule that decided; -1 when the default action did.
  int rule = -1;
};

// A string matched exactly, or by prefix when the configured text ends in "*".
struct StringMatcher {
  std::string text;
  bool prefix = false;
  bool matches(absl::string_view value) const;
};

class AuthorizationPolicy {
 public:
  // The policy must have passed config validation (config/authorization_checks.h); compiling
  // does not re-check it.
  explicit AuthorizationPolicy(const config::v1::AuthorizationPolicy& policy);

  Decision evaluate(const AuthorizationInput& input) const;
  size_t ruleCount() const { return rules_.size(); }

 private:
  struct Rule {
    bool allow = true;
    std::vector<StringMatcher> principals;
    std::vector<std::string> namespaces;
    std::vector<uint32_t> ports;
    std::vector<std::string> methods;
    std::vector<StringMatcher> paths;
    bool http_only() const { return !methods.empty() || !paths.empty(); }
  };
  bool matches(const Rule& rule, const AuthorizationInput& input, absl::string_view path) const;

  std::vector<Rule> rules_;
  bool default_allow_ = true;
};

// The caller's namespace from its SPIFFE identity (spiffe://TD/ns/NS/sa/SA, valid by the
// rules of tls::parseSpiffeId), or "" when the identity has no such form. A view into
// `principal`; allocates nothing.
absl::string_view namespaceOfPrincipal(absl::string_view principal);

}  // namespace skiff::filters::authz
