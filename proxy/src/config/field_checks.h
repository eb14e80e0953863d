#pragma once

// Small syntax checks shared by the YAML conversion and the semantic validator. Each returns an
// empty string when the input is fine, or the reason it is not (without the field path, which
// the caller knows).

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace skiff::config::internal {

// The protobuf JSON form of google.protobuf.Duration: "-"? digits ("." 1-9 digits)? "s", within
// +-315576000000 seconds. Mistakes such as "100ms" or "5 seconds" get a suggested spelling.
std::string checkDurationString(absl::string_view text);

// Converts "250ms", "2m", "1.5 hours", "30" (no unit: seconds) into the protobuf form ("0.25s",
// "120s", ...). Returns false when the text is not a number followed by a known unit.
bool suggestDurationString(absl::string_view text, std::string* suggestion);

// An IPv4 or IPv6 literal without brackets, port or zone. On success, *key (if given) is a
// canonical form, so "::1" and "0:0:0:0:0:0:0:1" compare equal.
bool parseIpLiteral(absl::string_view text, std::string* key = nullptr);

// A DNS name as a STRICT_DNS endpoint accepts: letters, digits, '-', '_' and '.', at most 253
// characters, no empty labels. IP literals also pass.
std::string checkHostName(absl::string_view text);

// An HTTP field name (RFC 9110 token) that a header mutation may touch: not empty, not a
// pseudo-header, not "host" (use host_rewrite_literal), and not a framing header.
std::string checkMutableHeaderName(absl::string_view name);

// An HTTP field name (RFC 9110 token) used for matching or hashing.
std::string checkHeaderName(absl::string_view name);

// A header value that cannot split the message: no CR, LF or NUL.
std::string checkHeaderValue(absl::string_view value);

bool isValidUtf8(absl::string_view text);

// Levenshtein distance, capped: returns cap + 1 as soon as the distance exceeds cap.
int editDistance(absl::string_view a, absl::string_view b, int cap);

}  // namespace skiff::config::internal
