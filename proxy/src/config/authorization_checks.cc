#include "config/authorization_checks.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace skiff::config {
namespace {

std::string field(const std::string& parent, absl::string_view name) {
  return parent.empty() ? std::string(name) : absl::StrCat(parent, ".", name);
}

std::string item(const std::string& parent, absl::string_view name, int index) {
  return absl::StrCat(field(parent, name), "[", index, "]");
}

std::string quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(text), "\"");
}

// A "*" may only end a pattern (prefix match); anywhere else it would be taken literally.
bool starInside(absl::string_view pattern) {
  size_t star = pattern.find('*');
  return star != absl::string_view::npos && star + 1 != pattern.size();
}

// Principals are compared as text with the peer's certificate URI, so anything that cannot be
// a SPIFFE ID (or a prefix of one) would silently never match.
std::string checkPrincipal(absl::string_view principal) {
  if (principal.empty()) return "must not be empty";
  if (starInside(principal)) return "\"*\" may only end a principal (a prefix match)";
  if (principal == "*") return "";
  absl::string_view text = principal;
  const bool prefix = absl::ConsumeSuffix(&text, "*");
  constexpr absl::string_view kScheme = "spiffe://";
  if (prefix ? !(absl::StartsWith(text, kScheme) || absl::StartsWith(kScheme, text))
             : !absl::StartsWith(text, kScheme) || text.size() == kScheme.size()) {
    return absl::StrFormat(
        "%s is not a SPIFFE ID (spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/ACCOUNT) or a prefix "
        "ending in \"*\"",
        quoted(principal));
  }
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '?' || c == '#') {
      return absl::StrFormat("%s has a character a SPIFFE ID cannot hold", quoted(principal));
    }
  }
  return "";
}

// Kubernetes namespaces are DNS labels: [a-z0-9-], 1 to 63 characters, no '-' at either end.
std::string checkNamespace(absl::string_view name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') {
    return absl::StrFormat("%s is not a namespace name (a DNS label)", quoted(name));
  }
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return absl::StrFormat("%s is not a namespace name (a DNS label)", quoted(name));
    }
  }
  return "";
}

// Methods are compared case-sensitively (RFC 9110 9.1), and every standard one is upper case:
// "get" would never match a GET.
std::string checkMethod(absl::string_view method) {
  if (method.empty()) return "must not be empty";
  for (char c : method) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_islower(u)) {
      return absl::StrFormat("%s must be upper case (methods are case-sensitive: %s)",
                             quoted(method), absl::AsciiStrToUpper(method));
    }
    if (!(absl::ascii_isupper(u) || absl::ascii_isdigit(u) || c == '-' || c == '_')) {
      return absl::StrFormat("%s is not an HTTP method", quoted(method));
    }
  }
  return "";
}

std::string checkPath(absl::string_view path) {
  if (!absl::StartsWith(path, "/")) {
    return absl::StrFormat("%s must start with \"/\"", quoted(path));
  }
  if (starInside(path)) return "\"*\" may only end a path (a prefix match)";
  if (path.find('?') != absl::string_view::npos) {
    return absl::StrFormat("%s: the query string is not part of the matched path", quoted(path));
  }
  for (char c : path) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || absl::ascii_iscntrl(c)) {
      return absl::StrFormat("%s has a space or control character", quoted(path));
    }
  }
  return "";
}

void action(int value, const std::string& path, FieldErrors& errors) {
  if (!v1::AuthorizationPolicy::Action_IsValid(value)) {
    errors.emplace_back(path, absl::StrFormat("%d is not ALLOW or DENY", value));
  }
}

}  // namespace

FieldErrors authorizationRuleErrors(const v1::AuthorizationRule& rule, const std::string& path,
                                    bool tcp_only) {
  FieldErrors errors;
  auto check = [&](absl::string_view name, int index, const std::string& reason) {
    if (!reason.empty()) errors.emplace_back(item(path, name, index), reason);
  };
  action(rule.action(), field(path, "action"), errors);
  for (int i = 0; i < rule.principals_size(); ++i) {
    check("principals", i, checkPrincipal(rule.principals(i)));
  }
  for (int i = 0; i < rule.namespaces_size(); ++i) {
    check("namespaces", i, checkNamespace(rule.namespaces(i)));
  }
  for (int i = 0; i < rule.ports_size(); ++i) {
    const uint32_t port = rule.ports(i);
    check(
        "ports", i,
        port == 0 || port > 65535 ? absl::StrFormat("%d is out of range (1 to 65535)", port) : "");
  }
  for (int i = 0; i < rule.methods_size(); ++i) check("methods", i, checkMethod(rule.methods(i)));
  for (int i = 0; i < rule.paths_size(); ++i) check("paths", i, checkPath(rule.paths(i)));
  if (tcp_only && (rule.methods_size() > 0 || rule.paths_size() > 0)) {
    errors.emplace_back(field(path, rule.methods_size() > 0 ? "methods" : "paths"),
                        "a TCP connection has no method or path: this rule would never match one");
  }
  return errors;
}

FieldErrors authorizationPolicyErrors(const v1::AuthorizationPolicy& policy,
                                      const std::string& path, bool tcp_only) {
  FieldErrors errors;
  action(policy.default_action(), field(path, "default_action"), errors);
  for (int i = 0; i < policy.rules_size(); ++i) {
    FieldErrors rule = authorizationRuleErrors(policy.rules(i), item(path, "rules", i), tcp_only);
    errors.insert(errors.end(), rule.begin(), rule.end());
  }
  return errors;
}

}  // namespace skiff::config
