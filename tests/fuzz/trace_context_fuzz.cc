// Drives the trace context parsers (tracing/trace_context.h) with one input read three ways: as
// a traceparent, as a b3 header, and as the x-b3-* headers. Checks: a parser that accepts
// returns usable ids (never all-zero, and a traceparent always has both); whatever it accepted
// formats back (traceparent, b3) into a value that parses to the same context; and a valid
// version-00 traceparent is exactly 55 lower-case characters (so nothing else slips through).
//
// Input layout: byte 0 says which x-b3-* headers are present (bits 0-4: traceid, spanid,
// parentspanid, sampled, flags); the rest is the value, split on '\n' for the x-b3-* headers
// in that order (see tests/fuzz/corpus/trace_context).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "fuzz_check.h"
#include "tracing/trace_context.h"

namespace skiff::tracing {
namespace {

void checkTraceparent(absl::string_view value) {
  TraceContext context;
  if (parseTraceparent(value, context) != ParseResult::kValid) return;
  FUZZ_CHECK(context.hasIds());
  FUZZ_CHECK(context.sampling == Sampling::kSample || context.sampling == Sampling::kDrop);
  if (value.substr(0, 2) == "00") FUZZ_CHECK(value.size() == kTraceparentSize);
  for (char c : value.substr(0, kTraceparentSize)) {
    FUZZ_CHECK(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  char formatted[kTraceparentSize];
  formatTraceparent(context.trace_id, context.span_id, context.sampling == Sampling::kSample,
                    formatted);
  TraceContext again;
  FUZZ_CHECK(parseTraceparent(absl::string_view(formatted, sizeof(formatted)), again) ==
             ParseResult::kValid);
  FUZZ_CHECK(again.trace_id == context.trace_id && again.span_id == context.span_id &&
             again.sampling == context.sampling);
}

void checkB3Single(absl::string_view value) {
  TraceContext context;
  if (parseB3Single(value, context) != ParseResult::kValid) return;
  if (!context.hasIds()) {
    FUZZ_CHECK(value.size() == 1 && context.sampling != Sampling::kUnset);
    return;
  }
  const Sampling sampling =
      context.sampling == Sampling::kUnset ? Sampling::kDrop : context.sampling;
  char formatted[kMaxB3SingleSize];
  const size_t size = formatB3Single(context.trace_id, context.b3_trace_id_64, context.span_id,
                                     sampling, context.parent_span_id, formatted);
  FUZZ_CHECK(size <= kMaxB3SingleSize);
  TraceContext again;
  FUZZ_CHECK(parseB3Single(absl::string_view(formatted, size), again) == ParseResult::kValid);
  FUZZ_CHECK(again.trace_id == context.trace_id && again.span_id == context.span_id &&
             again.parent_span_id == context.parent_span_id && again.sampling == sampling &&
             again.b3_trace_id_64 == context.b3_trace_id_64);
}

void checkB3Multi(uint8_t present, absl::string_view value) {
  std::vector<absl::string_view> parts = absl::StrSplit(value, '\n');
  parts.resize(5);
  B3Headers headers;
  std::optional<absl::string_view>* slots[] = {&headers.trace_id, &headers.span_id,
                                               &headers.parent_span_id, &headers.sampled,
                                               &headers.flags};
  for (int i = 0; i < 5; ++i) {
    if (present & (1 << i)) *slots[i] = parts[i];
  }
  TraceContext context;
  const ParseResult result = parseB3Multi(headers, context);
  FUZZ_CHECK((result == ParseResult::kAbsent) == !headers.any());
  if (result != ParseResult::kValid) return;
  FUZZ_CHECK(context.hasIds() == headers.trace_id.has_value());
  if (!context.hasIds()) return;
  // The same context, written as the single header, reads back the same.
  char formatted[kMaxB3SingleSize];
  const Sampling sampling =
      context.sampling == Sampling::kUnset ? Sampling::kDrop : context.sampling;
  const size_t size = formatB3Single(context.trace_id, context.b3_trace_id_64, context.span_id,
                                     sampling, context.parent_span_id, formatted);
  TraceContext single;
  FUZZ_CHECK(parseB3Single(absl::string_view(formatted, size), single) == ParseResult::kValid);
  FUZZ_CHECK(single.trace_id == context.trace_id && single.span_id == context.span_id);
}

}  // namespace
}  // namespace skiff::tracing

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff::tracing;
  if (size < 1) return 0;
  const absl::string_view value(reinterpret_cast<const char*>(data + 1), size - 1);
  checkTraceparent(value);
  checkB3Single(value);
  checkB3Multi(data[0], value);
  return 0;
}
