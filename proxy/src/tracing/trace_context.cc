#include "tracing/trace_context.h"

#include <cstring>

namespace skiff::tracing {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Lower-case hex only: both specifications forbid upper case, and accepting it would let two
// spellings of one id disagree downstream.
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool parseHexByte(absl::string_view text, uint8_t& out) {
  if (text.size() != 2) return false;
  const int high = hexValue(text[0]);
  const int low = hexValue(text[1]);
  if (high < 0 || low < 0) return false;
  out = static_cast<uint8_t>(high << 4 | low);
  return true;
}

// B3's sampling state, single-header spelling.
bool parseB3SamplingChar(char c, Sampling& out) {
  switch (c) {
    case '0':
      out = Sampling::kDrop;
      return true;
    case '1':
      out = Sampling::kSample;
      return true;
    case 'd':
      out = Sampling::kDebug;
      return true;
    default:
      return false;
  }
}

char b3SamplingChar(Sampling sampling) {
  switch (sampling) {
    case Sampling::kDebug:
      return 'd';
    case Sampling::kSample:
      return '1';
    default:
      return '0';
  }
}

}  // namespace

bool parseHex64(absl::string_view text, uint64_t& out) {
  if (text.size() != 16) return false;
  uint64_t value = 0;
  for (char c : text) {
    const int digit = hexValue(c);
    if (digit < 0) return false;
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  out = value;
  return true;
}

bool parseTraceIdHex(absl::string_view text, TraceId& out, bool& is_64_bit) {
  if (text.size() == 16) {
    is_64_bit = true;
    out.high = 0;
    return parseHex64(text, out.low);
  }
  if (text.size() == 32) {
    is_64_bit = false;
    return parseHex64(text.substr(0, 16), out.high) && parseHex64(text.substr(16), out.low);
  }
  return false;
}

void writeHex64(uint64_t value, char* out) {
  // Two digits per byte from a table: ids are written on every request.
  static constexpr struct Pairs {
    char digits[512];
    constexpr Pairs() : digits() {
      for (int byte = 0; byte < 256; ++byte) {
        digits[2 * byte] = kHexDigits[byte >> 4];
        digits[2 * byte + 1] = kHexDigits[byte & 0xf];
      }
    }
  } kPairs;
  for (int i = 7; i >= 0; --i) {
    std::memcpy(out + 2 * i, kPairs.digits + 2 * (value & 0xff), 2);
    value >>= 8;
  }
}

ParseResult parseTraceparent(absl::string_view value, TraceContext& out) {
  // version "-" trace-id "-" parent-id "-" trace-flags
  if (value.size() < kTraceparentSize) return ParseResult::kMalformed;
  uint8_t version = 0;
  if (!parseHexByte(value.substr(0, 2), version) || version == 0xff) {
    return ParseResult::kMalformed;
  }
  if (version == 0 ? value.size() != kTraceparentSize
                   : value.size() > kTraceparentSize && value[kTraceparentSize] != '-') {
    return ParseResult::kMalformed;
  }
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return ParseResult::kMalformed;
  TraceContext parsed;
  uint8_t flags = 0;
  if (!parseHex64(value.substr(3, 16), parsed.trace_id.high) ||
      !parseHex64(value.substr(19, 16), parsed.trace_id.low) ||
      !parseHex64(value.substr(36, 16), parsed.span_id) ||
      !parseHexByte(value.substr(53, 2), flags)) {
    return ParseResult::kMalformed;
  }
  if (!parsed.trace_id.valid() || parsed.span_id == 0) return ParseResult::kMalformed;
  parsed.sampling = (flags & 0x01) != 0 ? Sampling::kSample : Sampling::kDrop;
  out = parsed;
  return ParseResult::kValid;
}

ParseResult parseB3Single(absl::string_view value, TraceContext& out) {
  TraceContext parsed;
  if (value.size() == 1) {  // a decision without ids
    if (!parseB3SamplingChar(value[0], parsed.sampling)) return ParseResult::kMalformed;
    out = parsed;
    return ParseResult::kValid;
  }
  const size_t dash = value.find('-');
  if (dash == absl::string_view::npos) return ParseResult::kMalformed;
  if (!parseTraceIdHex(value.substr(0, dash), parsed.trace_id, parsed.b3_trace_id_64) ||
      !parsed.trace_id.valid()) {
    return ParseResult::kMalformed;
  }
  absl::string_view rest = value.substr(dash + 1);
  if (!parseHex64(rest.substr(0, 16), parsed.span_id) || parsed.span_id == 0) {
    return ParseResult::kMalformed;
  }
  rest.remove_prefix(16);
  if (!rest.empty()) {  // "-{sampling}"
    if (rest.size() < 2 || rest[0] != '-' || !parseB3SamplingChar(rest[1], parsed.sampling)) {
      return ParseResult::kMalformed;
    }
    rest.remove_prefix(2);
  }
  if (!rest.empty()) {  // "-{parent}"; an all-zero parent means none
    if (rest[0] != '-' || !parseHex64(rest.substr(1), parsed.parent_span_id)) {
      return ParseResult::kMalformed;
    }
  }
  out = parsed;
  return ParseResult::kValid;
}

ParseResult parseB3Multi(const B3Headers& headers, TraceContext& out) {
  if (!headers.any()) return ParseResult::kAbsent;
  TraceContext parsed;
  if (headers.sampled) {
    const absl::string_view sampled = *headers.sampled;
    if (sampled == "1" || sampled == "true") {
      parsed.sampling = Sampling::kSample;
    } else if (sampled == "0" || sampled == "false") {
      parsed.sampling = Sampling::kDrop;
    } else {
      return ParseResult::kMalformed;
    }
  }
  if (headers.flags) {
    // "1" is debug, which implies sampled; "0" says nothing.
    if (*headers.flags == "1") {
      parsed.sampling = Sampling::kDebug;
    } else if (*headers.flags != "0") {
      return ParseResult::kMalformed;
    }
  }
  if (headers.trace_id.has_value() != headers.span_id.has_value()) {
    return ParseResult::kMalformed;  // half a context
  }
  if (headers.trace_id) {
    if (!parseTraceIdHex(*headers.trace_id, parsed.trace_id, parsed.b3_trace_id_64) ||
        !parsed.trace_id.valid() || !parseHex64(*headers.span_id, parsed.span_id) ||
        parsed.span_id == 0) {
      return ParseResult::kMalformed;
    }
  }
  if (headers.parent_span_id) {
    if (!headers.trace_id || !parseHex64(*headers.parent_span_id, parsed.parent_span_id)) {
      return ParseResult::kMalformed;
    }
  }
  out = parsed;
  return ParseResult::kValid;
}

size_t formatTraceId(const TraceId& trace_id, bool width_64, char* out) {
  if (width_64) {
    writeHex64(trace_id.low, out);
    return 16;
  }
  writeHex64(trace_id.high, out);
  writeHex64(trace_id.low, out + 16);
  return 32;
}

size_t formatTraceparent(const TraceId& trace_id, SpanId span_id, bool sampled, char* out) {
  std::memcpy(out, "00-", 3);
  formatTraceId(trace_id, false, out + 3);
  out[35] = '-';
  writeHex64(span_id, out + 36);
  std::memcpy(out + 52, sampled ? "-01" : "-00", 3);
  return kTraceparentSize;
}

size_t formatB3Single(const TraceId& trace_id, bool trace_id_64, SpanId span_id, Sampling sampling,
                      SpanId parent_span_id, char* out) {
  size_t size = formatTraceId(trace_id, trace_id_64, out);
  out[size++] = '-';
  writeHex64(span_id, out + size);
  size += 16;
  out[size++] = '-';
  out[size++] = b3SamplingChar(sampling);
  if (parent_span_id != 0) {
    out[size++] = '-';
    writeHex64(parent_span_id, out + size);
    size += 16;
  }
  return size;
}

}  // namespace skiff::tracing
