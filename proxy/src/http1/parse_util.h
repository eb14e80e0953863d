#pragma once

// Character classes and small grammar pieces of RFC 9110 / RFC 9112 shared by the HTTP/1
// decoders and encoders. Everything works on contiguous bytes and table lookups, so the hot
// loops have no branches beyond one load per byte.

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "http/header_map.h"

namespace skiff::http1::internal {

enum CharClass : uint8_t {
  kTchar = 1 << 0,       // token characters (RFC 9110 5.6.2)
  kFieldVchar = 1 << 1,  // VCHAR / obs-text / SP / HTAB: allowed inside a field value
  kHexDigit = 1 << 2,
  kTargetChar = 1 << 3,  // visible ASCII allowed in a request-target (no '#', no obs-text)
  kHostChar = 1 << 4,    // unreserved / pct-encoded / sub-delims / ':' / '[' / ']'
};

namespace detail {

constexpr bool isAlnum(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool inSet(int c, const char* set) {
  for (; *set != '\0'; ++set) {
    if (*set == c) return true;
  }
  return false;
}

constexpr std::array<uint8_t, 256> makeCharClass() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    uint8_t bits = 0;
    if (isAlnum(c) || inSet(c, "!#$%&'*+-.^_`|~")) bits |= kTchar;
    if ((c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t') bits |= kFieldVchar;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      bits |= kHexDigit;
    }
    if (c >= 0x21 && c <= 0x7e && c != '#') bits |= kTargetChar;
    if (isAlnum(c) || inSet(c, "-._~%!$&'()*+,;=:[]")) bits |= kHostChar;
    table[c] = bits;
  }
  return table;
}

constexpr std::array<char, 256> makeLowerCase() {
  std::array<char, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  }
  return table;
}

}  // namespace detail

inline constexpr std::array<uint8_t, 256> kCharClass = detail::makeCharClass();
inline constexpr std::array<char, 256> kLowerCase = detail::makeLowerCase();

inline bool isTchar(char c) { return kCharClass[static_cast<uint8_t>(c)] & kTchar; }
inline bool isFieldChar(char c) { return kCharClass[static_cast<uint8_t>(c)] & kFieldVchar; }
inline bool isHexDigit(char c) { return kCharClass[static_cast<uint8_t>(c)] & kHexDigit; }
inline bool isTargetChar(char c) { return kCharClass[static_cast<uint8_t>(c)] & kTargetChar; }
inline bool isHostChar(char c) { return kCharClass[static_cast<uint8_t>(c)] & kHostChar; }
inline bool isWhitespace(char c) { return c == ' ' || c == '\t'; }

// True when every byte of `s` is a tchar and `s` is not empty.
bool isToken(absl::string_view s);
// Lower-cases a token into a fresh string (one allocation).
std::string lowerToken(absl::string_view token);
bool equalsIgnoreCase(absl::string_view a, absl::string_view lower_b);
absl::string_view trimWhitespace(absl::string_view s);

// Splits a comma-separated list (RFC 9110 5.6.1), calling `fn(element)` with each element
// trimmed of OWS. Empty elements are skipped, as the list syntax allows. Stops early when `fn`
// returns false; returns false in that case.
template <typename Fn>
bool forEachListElement(absl::string_view list, Fn&& fn) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == absl::string_view::npos) comma = list.size();
    absl::string_view element = trimWhitespace(list.substr(start, comma - start));
    if (!element.empty() && !fn(element)) return false;
    start = comma + 1;
  }
  return true;
}

// One field line ("name: value", CRLF already removed). Returns false if the name is not a
// token (this includes whitespace before the colon and obs-fold continuation lines) or the
// value holds a byte that is not allowed (CTLs other than HTAB, including CR, LF and NUL).
// `value` is trimmed of leading and trailing OWS.
bool parseFieldLine(absl::string_view line, absl::string_view* name, absl::string_view* value);

// Content-Length value: 1*DIGIT, or a list of identical such values. Rejects signs, spaces
// inside numbers, empty elements, differing values and values above 2^63-1.
bool parseContentLength(absl::string_view value, uint64_t* length);

// chunk-size [ chunk-ext ] of a chunk-size line (CRLF removed). Sizes of 2^63 and more are
// rejected; extensions are syntax-checked and ignored.
bool parseChunkSizeLine(absl::string_view line, uint64_t* size);

// Host header or absolute-form authority: uri-host [ ":" port ], userinfo not allowed. Empty
// is accepted (RFC 9112 3.2 allows an empty Host for targets without an authority).
bool isValidAuthority(absl::string_view authority);

// Whether the comma-separated Connection header fields contain `token` (lower-case).
bool hasConnectionToken(const http::HeaderMap& headers, absl::string_view token);

}  // namespace skiff::http1::internal
