#include "http1/parse_util.h"

#include <cstring>

namespace skiff::http1::internal {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

size_t skipWhitespace(absl::string_view s, size_t i) {
  while (i < s.size() && isWhitespace(s[i])) ++i;
  return i;
}

size_t skipToken(absl::string_view s, size_t i) {
  while (i < s.size() && isTchar(s[i])) ++i;
  return i;
}

// quoted-string (RFC 9110 5.6.4) starting at s[*pos] == '"'; advances past the closing quote.
bool skipQuotedString(absl::string_view s, size_t* pos) {
  size_t i = *pos + 1;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      *pos = i + 1;
      return true;
    }
    if (c == '\\') {
      if (i + 1 >= s.size() || !isFieldChar(s[i + 1])) return false;
      i += 2;
      continue;
    }
    if (!isFieldChar(c)) return false;
    ++i;
  }
  return false;
}

// Whether every byte may appear in a field value. Eight bytes at a time: a word with no byte
// below 0x20 and none equal to 0x7f is valid as a whole (bytes >= 0x80 are obs-text); only
// words that might hold a HTAB or a CTL are checked byte by byte.
bool isFieldValue(absl::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t word;
    memcpy(&word, p, 8);
    uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighs;
    uint64_t del = word ^ (kOnes * 0x7f);
    uint64_t is_del = (del - kOnes) & ~del & kHighs;
    if ((below_space | is_del) != 0) {
      for (size_t i = 0; i < 8; ++i) {
        if (!isFieldChar(p[i])) return false;
      }
    }
    p += 8;
    n -= 8;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!isFieldChar(p[i])) return false;
  }
  return true;
}

bool isDigits(absl::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

bool isToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTchar(c)) return false;
  }
  return true;
}

std::string lowerToken(absl::string_view token) {
  std::string out(token.size(), '\0');
  for (size_t i = 0; i < token.size(); ++i) out[i] = kLowerCase[static_cast<uint8_t>(token[i])];
  return out;
}

bool equalsIgnoreCase(absl::string_view a, absl::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (kLowerCase[static_cast<uint8_t>(a[i])] != lower_b[i]) return false;
  }
  return true;
}

absl::string_view trimWhitespace(absl::string_view s) {
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end && isWhitespace(s[begin])) ++begin;
  while (end > begin && isWhitespace(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

bool parseFieldLine(absl::string_view line, absl::string_view* name, absl::string_view* value) {
  size_t colon = skipToken(line, 0);
  if (colon == 0 || colon == line.size() || line[colon] != ':') return false;
  absl::string_view rest = line.substr(colon + 1);
  if (!isFieldValue(rest)) return false;
  *name = line.substr(0, colon);
  *value = trimWhitespace(rest);
  return true;
}

bool parseContentLength(absl::string_view value, uint64_t* length) {
  constexpr uint64_t kMax = (uint64_t{1} << 63) - 1;
  bool seen = false;
  uint64_t result = 0;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == absl::string_view::npos) comma = value.size();
    absl::string_view element = trimWhitespace(value.substr(start, comma - start));
    // Unlike other lists, an empty element is refused: "5," is more likely an attack than a
    // sloppy client.
    if (element.empty()) return false;
    uint64_t n = 0;
    for (char c : element) {
      if (c < '0' || c > '9') return false;
      uint64_t digit = static_cast<uint64_t>(c - '0');
      if (n > (kMax - digit) / 10) return false;
      n = n * 10 + digit;
    }
    if (seen && n != result) return false;
    seen = true;
    result = n;
    start = comma + 1;
  }
  *length = result;
  return true;
}

bool parseChunkSizeLine(absl::string_view line, uint64_t* size) {
  uint64_t n = 0;
  size_t i = 0;
  while (i < line.size() && isHexDigit(line[i])) {
    // Another digit would reach 2^63: a size no real body has, and one that overflows
    // signed arithmetic further down the stack.
    if (n >> 59) return false;
    n = (n << 4) | static_cast<uint64_t>(hexValue(line[i]));
    ++i;
  }
  if (i == 0) return false;
  // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), all ignored.
  while (i < line.size()) {
    i = skipWhitespace(line, i);
    if (i == line.size() || line[i] != ';') return false;
    i = skipWhitespace(line, i + 1);
    size_t name_end = skipToken(line, i);
    if (name_end == i) return false;
    i = name_end;
    size_t after = skipWhitespace(line, i);
    if (after < line.size() && line[after] == '=') {
      i = skipWhitespace(line, after + 1);
      if (i < line.size() && line[i] == '"') {
        if (!skipQuotedString(line, &i)) return false;
      } else {
        size_t value_end = skipToken(line, i);
        if (value_end == i) return false;
        i = value_end;
      }
    }
  }
  *size = n;
  return true;
}

bool isValidAuthority(absl::string_view authority) {
  if (authority.empty()) return true;
  absl::string_view port;
  if (authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos || close == 1) return false;
    for (char c : authority.substr(1, close - 1)) {
      if (!isHexDigit(c) && c != ':' && c != '.') return false;
    }
    absl::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    absl::string_view host = authority.substr(0, colon);
    if (host.empty()) return false;
    for (char c : host) {
      if (!isHostChar(c) || c == '[' || c == ']') return false;
    }
    if (colon != absl::string_view::npos) port = authority.substr(colon + 1);
  }
  return port.size() <= 5 && isDigits(port);
}

bool hasConnectionToken(const http::HeaderMap& headers, absl::string_view token) {
  for (const auto& entry : headers.entries()) {
    if (entry.first != "connection") continue;
    bool found = !forEachListElement(entry.second, [&](absl::string_view element) {
      return !equalsIgnoreCase(element, token);
    });
    if (found) return true;
  }
  return false;
}

}  // namespace skiff::http1::internal
