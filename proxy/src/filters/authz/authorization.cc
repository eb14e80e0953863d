#include "filters/authz/authorization.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace skiff::filters::authz {
namespace {

std::vector<StringMatcher> compileMatchers(
    const google::protobuf::RepeatedPtrField<std::string>& patterns) {
  std::vector<StringMatcher> matchers;
  matchers.reserve(patterns.size());
  for (const std::string& pattern : patterns) {
    StringMatcher matcher;
    matcher.prefix = absl::EndsWith(pattern, "*");
    matcher.text = matcher.prefix ? pattern.substr(0, pattern.size() - 1) : pattern;
    matchers.push_back(std::move(matcher));
  }
  return matchers;
}

bool anyMatches(const std::vector<StringMatcher>& matchers, absl::string_view value) {
  return std::any_of(matchers.begin(), matchers.end(),
                     [value](const StringMatcher& m) { return m.matches(value); });
}

template <typename T, typename V>
bool contains(const std::vector<T>& values, const V& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

}  // namespace

bool StringMatcher::matches(absl::string_view value) const {
  return prefix ? absl::StartsWith(value, text) : value == text;
}

// The rules of tls::parseSpiffeId for the one form that has a namespace, without building a
// SpiffeId (five strings and a split per request): a rule with namespaces runs this on every
// request. tests/authz checks that both agree.
absl::string_view namespaceOfPrincipal(absl::string_view principal) {
  constexpr absl::string_view kScheme = "spiffe://";
  constexpr size_t kMaxSpiffeIdBytes = 2048;
  if (principal.size() > kMaxSpiffeIdBytes || !absl::StartsWith(principal, kScheme)) return {};
  absl::string_view rest = principal.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == absl::string_view::npos) return {};
  for (char c : rest.substr(0, slash)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
      return {};
    }
  }
  // "/ns/<namespace>/sa/<account>": exactly four non-empty segments.
  absl::string_view segments[4];
  absl::string_view path = rest.substr(slash + 1);
  for (int i = 0; i < 4; ++i) {
    const size_t end = path.find('/');
    if ((i < 3) == (end == absl::string_view::npos)) return {};
    segments[i] = path.substr(0, end);
    if (segments[i].empty() || segments[i] == "." || segments[i] == "..") return {};
    for (char c : segments[i]) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '-' || c == '_')) {
        return {};
      }
    }
    if (i < 3) path = path.substr(end + 1);
  }
  if (segments[0] != "ns" || segments[2] != "sa") return {};
  return segments[1];
}

AuthorizationPolicy::AuthorizationPolicy(const config::v1::AuthorizationPolicy& policy)
    : default_allow_(policy.default_action() == config::v1::AuthorizationPolicy::ALLOW) {
  rules_.reserve(policy.rules_size());
  for (const config::v1::AuthorizationRule& source : policy.rules()) {
    Rule rule;
    rule.allow = source.action() == config::v1::AuthorizationPolicy::ALLOW;
    rule.principals = compileMatchers(source.principals());
    rule.namespaces.assign(source.namespaces().begin(), source.namespaces().end());
    rule.ports.assign(source.ports().begin(), source.ports().end());
    rule.methods.assign(source.methods().begin(), source.methods().end());
    rule.paths = compileMatchers(source.paths());
    rules_.push_back(std::move(rule));
  }
}

bool AuthorizationPolicy::matches(const Rule& rule, const AuthorizationInput& input,
                                  absl::string_view path) const {
  if (rule.http_only() && !input.is_http) return false;
  // A plaintext caller has no identity: it can only match rules that do not ask for one.
  if (!rule.principals.empty() &&
      (input.principal.empty() || !anyMatches(rule.principals, input.principal))) {
    return false;
  }
  if (!rule.namespaces.empty()) {
    const absl::string_view caller_namespace = namespaceOfPrincipal(input.principal);
    if (caller_namespace.empty() || !contains(rule.namespaces, caller_namespace)) return false;
  }
  if (!rule.ports.empty() && !contains(rule.ports, input.destination_port)) return false;
  if (!rule.methods.empty() && !contains(rule.methods, input.method)) return false;
  if (!rule.paths.empty() && !anyMatches(rule.paths, path)) return false;
  return true;
}

Decision AuthorizationPolicy::evaluate(const AuthorizationInput& input) const {
  absl::string_view path = input.path;
  if (size_t query = path.find('?'); query != absl::string_view::npos) path = path.substr(0, query);
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (matches(rules_[i], input, path)) {
      return Decision{rules_[i].allow, static_cast<int>(i)};
    }
  }
  return Decision{default_allow_, -1};
}

}  // namespace skiff::filters::authz
