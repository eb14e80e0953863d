#pragma once

// Compiled request matchers: header and query parameter conditions of a route.

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "http/header_map.h"
#include "re2/re2.h"
#include "skiff/config/v1/route.pb.h"

namespace skiff::router {

// Compiles a pattern once; errors read "<field>: invalid regex: <RE2's message>".
absl::StatusOr<std::unique_ptr<RE2>> compileRegex(const std::string& pattern,
                                                  const std::string& field);
// RE2 full match without copying `text`.
bool fullMatch(absl::string_view text, const RE2& regex);

// The exact / prefix / regex / present test shared by header and query matchers.
class ValueMatcher {
 public:
  // `value` is nullopt when the header or parameter is absent. An absent value matches only
  // present_match: false.
  bool matches(std::optional<absl::string_view> value) const;

  // Works for both HeaderMatcher and QueryParameterMatcher (same oneof). A matcher with no
  // specifier is a presence test. `field` prefixes error messages. Instantiated for both
  // protos in route_matcher.cc.
  template <typename Proto>
  static absl::StatusOr<ValueMatcher> create(const Proto& proto, const std::string& field);

 private:
  enum class Kind { kExact, kPrefix, kRegex, kPresent };
  Kind kind_ = Kind::kPresent;
  std::string value_;
  bool present_ = true;
  std::shared_ptr<const RE2> regex_;
};

class HeaderMatcher {
 public:
  static absl::StatusOr<HeaderMatcher> create(const config::v1::HeaderMatcher& proto,
                                              const std::string& field);
  bool matches(const http::RequestHead& head) const;

 private:
  // Pseudo-headers and Host live outside RequestHead::headers.
  enum class Source { kHeader, kAuthority, kMethod, kPath, kScheme };
  Source source_ = Source::kHeader;
  std::string name_;  // lower-case
  ValueMatcher value_;
  bool invert_ = false;
};

class QueryParameterMatcher {
 public:
  static absl::StatusOr<QueryParameterMatcher> create(
      const config::v1::QueryParameterMatcher& proto, const std::string& field);
  // `query` is the raw query string, without '?'. The first parameter of the name counts.
  bool matches(absl::string_view query) const;

 private:
  std::string name_;
  ValueMatcher value_;
};

// Decodes %XX escapes (malformed escapes are kept as they are; '+' stays '+'). Exposed for
// tests.
std::string percentDecode(absl::string_view input);

}  // namespace skiff::router
