#include "router/route_matcher.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace skiff::router {

absl::StatusOr<std::unique_ptr<RE2>> compileRegex(const std::string& pattern,
                                                  const std::string& field) {
  RE2::Options options;
  options.set_log_errors(false);
  auto regex = std::make_unique<RE2>(pattern, options);
  if (!regex->ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": invalid regex: ", regex->error()));
  }
  return regex;
}

bool fullMatch(absl::string_view text, const RE2& regex) {
  return RE2::FullMatch(re2::StringPiece(text.data(), text.size()), regex);
}

bool ValueMatcher::matches(std::optional<absl::string_view> value) const {
  if (!value) return kind_ == Kind::kPresent && !present_;
  switch (kind_) {
    case Kind::kExact:
      return *value == value_;
    case Kind::kPrefix:
      return absl::StartsWith(*value, value_);
    case Kind::kRegex:
      return fullMatch(*value, *regex_);
    case Kind::kPresent:
      return present_;
  }
  return false;
}

template <typename Proto>
absl::StatusOr<ValueMatcher> ValueMatcher::create(const Proto& proto, const std::string& field) {
  ValueMatcher matcher;
  switch (proto.match_specifier_case()) {
    case Proto::kExactMatch:
      matcher.kind_ = Kind::kExact;
      matcher.value_ = proto.exact_match();
      break;
    case Proto::kPrefixMatch:
      matcher.kind_ = Kind::kPrefix;
      matcher.value_ = proto.prefix_match();
      break;
    case Proto::kSafeRegexMatch: {
      auto regex = compileRegex(proto.safe_regex_match(), field + ".safe_regex_match");
      if (!regex.ok()) return regex.status();
      matcher.kind_ = Kind::kRegex;
      matcher.regex_ = std::move(*regex);
      break;
    }
    case Proto::kPresentMatch:
      matcher.kind_ = Kind::kPresent;
      matcher.present_ = proto.present_match();
      break;
    default:
      matcher.kind_ = Kind::kPresent;
      matcher.present_ = true;
      break;
  }
  return matcher;
}

template absl::StatusOr<ValueMatcher> ValueMatcher::create(const config::v1::HeaderMatcher&,
                                                           const std::string&);
template absl::StatusOr<ValueMatcher> ValueMatcher::create(const config::v1::QueryParameterMatcher&,
                                                           const std::string&);

absl::StatusOr<HeaderMatcher> HeaderMatcher::create(const config::v1::HeaderMatcher& proto,
                                                    const std::string& field) {
  if (proto.name().empty()) return absl::InvalidArgumentError(field + ".name: empty");
  HeaderMatcher matcher;
  matcher.name_ = absl::AsciiStrToLower(proto.name());
  if (matcher.name_ == "host" || matcher.name_ == ":authority") {
    matcher.source_ = Source::kAuthority;
  } else if (matcher.name_ == ":method") {
    matcher.source_ = Source::kMethod;
  } else if (matcher.name_ == ":path") {
    matcher.source_ = Source::kPath;
  } else if (matcher.name_ == ":scheme") {
    matcher.source_ = Source::kScheme;
  }
  auto value = ValueMatcher::create(proto, field);
  if (!value.ok()) return value.status();
  matcher.value_ = std::move(*value);
  matcher.invert_ = proto.invert_match();
  return matcher;
}

bool HeaderMatcher::matches(const http::RequestHead& head) const {
  std::optional<absl::string_view> value;
  switch (source_) {
    case Source::kHeader:
      // Repeated headers: the first value decides, as HeaderMap::get() reads it.
      if (const std::string* found = head.headers.get(name_)) value = *found;
      break;
    case Source::kAuthority:
      if (!head.authority.empty()) value = head.authority;
      break;
    case Source::kMethod:
      value = head.method;
      break;
    case Source::kPath:
      value = head.path;
      break;
    case Source::kScheme:
      value = head.scheme;
      break;
  }
  return value_.matches(value) != invert_;
}

absl::StatusOr<QueryParameterMatcher> QueryParameterMatcher::create(
    const config::v1::QueryParameterMatcher& proto, const std::string& field) {
  if (proto.name().empty()) return absl::InvalidArgumentError(field + ".name: empty");
  QueryParameterMatcher matcher;
  matcher.name_ = proto.name();
  auto value = ValueMatcher::create(proto, field);
  if (!value.ok()) return value.status();
  matcher.value_ = std::move(*value);
  return matcher;
}

bool QueryParameterMatcher::matches(absl::string_view query) const {
  // Decoding allocates, so it happens only for parameters that carry escapes.
  std::string decoded_name;
  std::string decoded_value;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    absl::string_view param = query.substr(0, amp);
    query = amp == absl::string_view::npos ? absl::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    absl::string_view name = param.substr(0, eq);
    absl::string_view value =
        eq == absl::string_view::npos ? absl::string_view() : param.substr(eq + 1);
    if (name.find('%') != absl::string_view::npos) {
      decoded_name = percentDecode(name);
      name = decoded_name;
    }
    if (name != name_) continue;
    if (value.find('%') != absl::string_view::npos) {
      decoded_value = percentDecode(value);
      value = decoded_value;
    }
    return value_.matches(value);
  }
  return value_.matches(std::nullopt);
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percentDecode(absl::string_view input) {
  std::string out;
  out.reserve(input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '%' && i + 2 < input.size()) {
      const int high = hexValue(input[i + 1]);
      const int low = hexValue(input[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(input[i]);
  }
  return out;
}

}  // namespace skiff::router
