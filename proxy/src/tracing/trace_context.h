#pragma once

// Trace context on the wire: W3C Trace Context (`traceparent`, level 1) and Zipkin's B3 (the
// single `b3` header and the multi-header `x-b3-*` form). Pure functions over header values:
// no allocation when parsing, and formatting writes into a caller's buffer, so the request path
// pays for neither. filters/http/trace_context.h decides what to do with what they return.
//
// Rules (https://www.w3.org/TR/trace-context-1/ and https://github.com/openzipkin/b3-propagation):
// - traceparent: "VV-TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT-PPPPPPPPPPPPPPPP-FF", lower-case hex only.
//   Version 00 is exactly 55 characters. Version ff is invalid. A higher version is parsed as
//   00 (its first 55 characters), and may go on only after a '-' (the rule for future
//   versions). An all-zero trace id or parent id is invalid. Only the sampled flag (bit 0) is
//   read.
// - b3: "{trace}-{span}[-{sampling}[-{parent}]]" with a 16- or 32-hex trace id, 16-hex span and
//   parent ids and sampling "0", "1" or "d" (debug: sample, and force it downstream); or the
//   lone sampling state "0", "1" or "d" (a decision without ids).
// - x-b3-traceid / x-b3-spanid / x-b3-parentspanid / x-b3-sampled / x-b3-flags: the same ids;
//   sampled "1"/"0" (and "true"/"false", which older tracers sent); flags "1" means debug.
//   A trace id needs a span id and the other way round; sampled or flags alone is a decision
//   without ids.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace skiff::tracing {

// 128 bits; a 64-bit B3 trace id has high == 0. All zero is invalid.
struct TraceId {
  uint64_t high = 0;
  uint64_t low = 0;
  bool valid() const { return high != 0 || low != 0; }
  friend bool operator==(const TraceId& a, const TraceId& b) {
    return a.high == b.high && a.low == b.low;
  }
  friend bool operator!=(const TraceId& a, const TraceId& b) { return !(a == b); }
};

// A span id is 64 bits; 0 means none.
using SpanId = uint64_t;

enum class Sampling : uint8_t {
  kUnset,   // no decision came with the context (B3 may defer it); the sampler decides
  kDrop,    // not sampled
  kSample,  // sampled
  kDebug,   // B3 debug: sampled, and forced for every hop after this one
};

// What one carrier said. `span_id` is the caller's span: this hop's parent.
struct TraceContext {
  TraceId trace_id;
  SpanId span_id = 0;
  SpanId parent_span_id = 0;  // B3 only: the caller's own parent, when it sent one
  Sampling sampling = Sampling::kUnset;
  bool b3_trace_id_64 = false;  // B3 sent a 16-hex trace id: answer B3 in the same width
  // Ids present (false for a sampling-only B3 header such as "b3: 0").
  bool hasIds() const { return trace_id.valid() && span_id != 0; }
};

enum class ParseResult : uint8_t { kAbsent, kValid, kMalformed };

// traceparent. kAbsent is never returned (the caller knows whether the header is there).
ParseResult parseTraceparent(absl::string_view value, TraceContext& out);

// b3 (single header).
ParseResult parseB3Single(absl::string_view value, TraceContext& out);

// The x-b3-* headers; nullopt for headers the request did not carry. kAbsent when none.
struct B3Headers {
  std::optional<absl::string_view> trace_id;
  std::optional<absl::string_view> span_id;
  std::optional<absl::string_view> parent_span_id;
  std::optional<absl::string_view> sampled;
  std::optional<absl::string_view> flags;
  bool any() const { return trace_id || span_id || parent_span_id || sampled || flags; }
};
ParseResult parseB3Multi(const B3Headers& headers, TraceContext& out);

// Fixed-width lower-case hex ids.
bool parseHex64(absl::string_view text, uint64_t& out);  // exactly 16 hex digits
bool parseTraceIdHex(absl::string_view text, TraceId& out, bool& is_64_bit);  // 16 or 32
void writeHex64(uint64_t value, char* out);  // 16 characters, no terminator

// Formatting. Each writes exactly the returned number of characters into `out`.
constexpr size_t kTraceparentSize = 55;
constexpr size_t kTraceIdHexSize = 32;
constexpr size_t kSpanIdHexSize = 16;
// "00-{trace}-{span}-{01|00}".
size_t formatTraceparent(const TraceId& trace_id, SpanId span_id, bool sampled, char* out);
// 32 hex digits (W3C and logs), or 16 when `width_64` (an answer to a 64-bit B3 trace id).
size_t formatTraceId(const TraceId& trace_id, bool width_64, char* out);
// b3 single: "{trace}-{span}-{1|0|d}[-{parent}]"; at most kMaxB3SingleSize characters.
constexpr size_t kMaxB3SingleSize = 32 + 1 + 16 + 2 + 1 + 16;
size_t formatB3Single(const TraceId& trace_id, bool trace_id_64, SpanId span_id, Sampling sampling,
                      SpanId parent_span_id, char* out);

}  // namespace skiff::tracing
