#include "config/field_checks.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace skiff::config::internal {
namespace {

// google.protobuf.Duration's documented range, about 10,000 years.
constexpr int64_t kMaxDurationSeconds = 315576000000;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool isTokenChar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

// Units people write, mapped onto the ones absl::ParseDuration knows.
absl::string_view canonicalUnit(absl::string_view unit) {
  static const std::pair<absl::string_view, absl::string_view> kUnits[] = {
      {"ns", "ns"},
      {"nanosecond", "ns"},
      {"nanoseconds", "ns"},
      {"us", "us"},
      {"microsecond", "us"},
      {"microseconds", "us"},
      {"ms", "ms"},
      {"millisecond", "ms"},
      {"milliseconds", "ms"},
      {"", "s"},
      {"s", "s"},
      {"sec", "s"},
      {"secs", "s"},
      {"second", "s"},
      {"seconds", "s"},
      {"m", "m"},
      {"min", "m"},
      {"mins", "m"},
      {"minute", "m"},
      {"minutes", "m"},
      {"h", "h"},
      {"hr", "h"},
      {"hrs", "h"},
      {"hour", "h"},
      {"hours", "h"},
  };
  for (const auto& [spelling, canonical] : kUnits) {
    if (unit == spelling) return canonical;
  }
  return {};
}

}  // namespace

bool suggestDurationString(absl::string_view text, std::string* suggestion) {
  text = absl::StripAsciiWhitespace(text);
  size_t end = 0;
  while (end < text.size() && (isDigit(text[end]) || text[end] == '.')) ++end;
  absl::string_view number = text.substr(0, end);
  if (number.empty() || !isDigit(number.front())) return false;
  std::string unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text.substr(end)));
  absl::string_view canonical = canonicalUnit(unit);
  if (canonical.empty()) return false;
  absl::Duration duration;
  if (!absl::ParseDuration(absl::StrCat(number, canonical), &duration)) return false;
  if (duration > absl::Seconds(kMaxDurationSeconds)) return false;
  const int64_t nanos = absl::ToInt64Nanoseconds(duration);
  std::string formatted = absl::StrCat(nanos / 1000000000);
  if (int64_t fraction = nanos % 1000000000; fraction != 0) {
    std::string digits = absl::StrFormat("%09d", fraction);
    digits.erase(digits.find_last_not_of('0') + 1);
    absl::StrAppend(&formatted, ".", digits);
  }
  *suggestion = absl::StrCat(formatted, "s");
  return true;
}

std::string checkDurationString(absl::string_view text) {
  size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  const size_t seconds_begin = i;
  while (i < text.size() && isDigit(text[i])) ++i;
  const size_t seconds_end = i;
  bool well_formed = seconds_end > seconds_begin;
  if (well_formed && i < text.size() && text[i] == '.') {
    ++i;
    const size_t fraction_begin = i;
    while (i < text.size() && isDigit(text[i])) ++i;
    const size_t fraction_digits = i - fraction_begin;
    well_formed = fraction_digits >= 1 && fraction_digits <= 9;
  }
  well_formed = well_formed && i + 1 == text.size() && text[i] == 's';
  if (!well_formed) {
    std::string suggestion;
    if (suggestDurationString(text, &suggestion)) {
      return absl::StrFormat(
          "invalid duration \"%s\" (did you mean \"%s\"? durations are written in seconds with "
          "an \"s\" suffix)",
          text, suggestion);
    }
    return absl::StrFormat(
        "invalid duration \"%s\" (expected seconds with an \"s\" suffix, e.g. \"5s\" or "
        "\"0.25s\")",
        text);
  }
  uint64_t seconds = 0;
  absl::string_view digits = text.substr(seconds_begin, seconds_end - seconds_begin);
  if (digits.size() > 12 || !absl::SimpleAtoi(digits, &seconds) ||
      seconds > static_cast<uint64_t>(kMaxDurationSeconds)) {
    return absl::StrFormat("duration \"%s\" is out of range (at most %ds)", text,
                           kMaxDurationSeconds);
  }
  return "";
}

bool parseIpLiteral(absl::string_view text, std::string* key) {
  const std::string copy(text);
  in_addr v4;
  if (inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
    if (key) *key = absl::StrCat("4:", absl::string_view(reinterpret_cast<char*>(&v4), 4));
    return true;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, copy.c_str(), &v6) == 1) {
    if (key) *key = absl::StrCat("6:", absl::string_view(reinterpret_cast<char*>(&v6), 16));
    return true;
  }
  return false;
}

std::string checkHostName(absl::string_view text) {
  if (text.empty()) return "must not be empty";
  if (parseIpLiteral(text)) return "";
  absl::string_view name = text;
  if (absl::EndsWith(name, ".")) name.remove_suffix(1);
  if (name.size() > 253) return absl::StrFormat("host name \"%s\" is too long", text);
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    const bool label_ok =
        !label.empty() && label.size() <= 63 && std::all_of(label.begin(), label.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
        });
    if (!label_ok) {
      return absl::StrFormat("\"%s\" is not a valid host name or IP address", text);
    }
  }
  return "";
}

std::string checkHeaderName(absl::string_view name) {
  if (name.empty()) return "header name must not be empty";
  if (!std::all_of(name.begin(), name.end(), isTokenChar)) {
    return absl::StrFormat("\"%s\" is not a valid header name", name);
  }
  return "";
}

std::string checkMutableHeaderName(absl::string_view name) {
  if (absl::StartsWith(name, ":")) {
    return absl::StrFormat("pseudo-header \"%s\" cannot be modified", name);
  }
  if (std::string reason = checkHeaderName(name); !reason.empty()) return reason;
  if (absl::EqualsIgnoreCase(name, "host")) {
    return "\"host\" cannot be modified here (use route.host_rewrite_literal)";
  }
  // Changing framing headers behind the codec's back would desynchronise the two sides of the
  // connection (request smuggling).
  if (absl::EqualsIgnoreCase(name, "content-length") ||
      absl::EqualsIgnoreCase(name, "transfer-encoding")) {
    return absl::StrFormat("framing header \"%s\" cannot be modified", name);
  }
  return "";
}

std::string checkHeaderValue(absl::string_view value) {
  if (value.find_first_of(absl::string_view("\r\n\0", 3)) != absl::string_view::npos) {
    return "header value must not contain CR, LF or NUL";
  }
  return "";
}

bool isValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t extra;
    uint32_t code_point;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code_point = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code_point = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code_point = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[extra] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

int editDistance(absl::string_view a, absl::string_view b, int cap) {
  const int diff = static_cast<int>(a.size()) - static_cast<int>(b.size());
  if (diff > cap || -diff > cap) return cap + 1;
  std::vector<int> previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = static_cast<int>(i);
    int row_min = current[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      const int substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
      row_min = std::min(row_min, current[j]);
    }
    if (row_min > cap) return cap + 1;
    std::swap(previous, current);
  }
  return std::min(previous[b.size()], cap + 1);
}

}  // namespace skiff::config::internal
