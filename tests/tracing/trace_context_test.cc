#include "tracing/trace_context.h"

#include <string>

#include "gtest/gtest.h"

namespace skiff::tracing {
namespace {

constexpr absl::string_view kTraceparent =
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

using Parser = ParseResult (*)(absl::string_view, TraceContext&);

TraceContext parsedBy(Parser parse, absl::string_view value) {
  TraceContext context;
  EXPECT_EQ(parse(value, context), ParseResult::kValid) << value;
  return context;
}

void expectMalformedBy(Parser parse, absl::string_view value) {
  TraceContext context;
  context.span_id = 42;  // untouched on failure
  EXPECT_EQ(parse(value, context), ParseResult::kMalformed) << value;
  EXPECT_EQ(context.span_id, 42u) << value;
}

TraceContext parsedTraceparent(absl::string_view value) {
  return parsedBy(parseTraceparent, value);
}
void expectMalformedTraceparent(absl::string_view value) {
  expectMalformedBy(parseTraceparent, value);
}
TraceContext parsedB3(absl::string_view value) { return parsedBy(parseB3Single, value); }
void expectMalformedB3(absl::string_view value) { expectMalformedBy(parseB3Single, value); }

TEST(TraceparentTest, ParsesVersion00) {
  TraceContext context = parsedTraceparent(kTraceparent);
  EXPECT_EQ(context.trace_id.high, 0x0af7651916cd43ddULL);
  EXPECT_EQ(context.trace_id.low, 0x8448eb211c80319cULL);
  EXPECT_EQ(context.span_id, 0xb7ad6b7169203331ULL);
  EXPECT_EQ(context.sampling, Sampling::kSample);
  EXPECT_TRUE(context.hasIds());
  EXPECT_EQ(parsedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").sampling,
            Sampling::kDrop);
  // Only bit 0 is the sampled flag; other bits are ignored.
  EXPECT_EQ(parsedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02").sampling,
            Sampling::kDrop);
  EXPECT_EQ(parsedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff").sampling,
            Sampling::kSample);
}

TEST(TraceparentTest, RejectsWrongLengths) {
  expectMalformedTraceparent("");
  expectMalformedTraceparent("00");
  expectMalformedTraceparent(kTraceparent.substr(0, 54));            // one short
  expectMalformedTraceparent(std::string(kTraceparent) + "0");       // one long
  expectMalformedTraceparent(std::string(kTraceparent) + "-extra");  // v00 has no more
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01");   // 31
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c0-b7ad6b716920333-01");  // 33/15
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-011");  // 15/3
  expectMalformedTraceparent("000-af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");  // 3-digit
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1");
}

TEST(TraceparentTest, RejectsAllZeroIds) {
  expectMalformedTraceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01");
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01");
  // Half zero is fine.
  EXPECT_EQ(
      parsedTraceparent("00-00000000000000000000000000000001-0000000000000001-01").trace_id.low,
      1u);
}

TEST(TraceparentTest, RejectsUpperCaseAndNonHex) {
  expectMalformedTraceparent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01");
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01");
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0A");
  expectMalformedTraceparent("0A-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01");
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333z-01");
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x");
  expectMalformedTraceparent("00-0af7651916cd43dd 448eb211c80319c-b7ad6b7169203331-01");
  expectMalformedTraceparent("00-+af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
}

TEST(TraceparentTest, RejectsWrongSeparators) {
  expectMalformedTraceparent("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01");
  expectMalformedTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331_01");
}

TEST(TraceparentTest, VersionFfIsInvalid) {
  expectMalformedTraceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
}

TEST(TraceparentTest, HigherVersionsParseAsVersion00) {
  // Same fields, and whatever follows a '-' after them is ignored.
  TraceContext context =
      parsedTraceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(context.span_id, 0xb7ad6b7169203331ULL);
  context = parsedTraceparent(
      "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-the-future-holds");
  EXPECT_EQ(context.sampling, Sampling::kSample);
  // ... but the version 00 rules still hold for the fields they share.
  expectMalformedTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x");
  expectMalformedTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331");
  expectMalformedTraceparent("01-00000000000000000000000000000000-b7ad6b7169203331-01");
}

TEST(TraceparentTest, FormatsWhatItParses) {
  char out[kTraceparentSize];
  TraceContext context = parsedTraceparent(kTraceparent);
  ASSERT_EQ(formatTraceparent(context.trace_id, context.span_id, true, out), kTraceparentSize);
  EXPECT_EQ(absl::string_view(out, kTraceparentSize), kTraceparent);
  formatTraceparent(TraceId{0, 0x1234}, 0xabc, false, out);
  EXPECT_EQ(absl::string_view(out, kTraceparentSize),
            "00-00000000000000000000000000001234-0000000000000abc-00");
}

TEST(B3SingleTest, ParsesEveryForm) {
  TraceContext context = parsedB3("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1");
  EXPECT_EQ(context.trace_id.high, 0x80f198ee56343ba8ULL);
  EXPECT_EQ(context.trace_id.low, 0x64fe8b2a57d3eff7ULL);
  EXPECT_EQ(context.span_id, 0xe457b5a2e4d86bd1ULL);
  EXPECT_EQ(context.sampling, Sampling::kUnset);  // deferred
  EXPECT_FALSE(context.b3_trace_id_64);

  context = parsedB3("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90");
  EXPECT_EQ(context.sampling, Sampling::kSample);
  EXPECT_EQ(context.parent_span_id, 0x05e3ac9a4f6e3b90ULL);

  context = parsedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-0");
  EXPECT_TRUE(context.b3_trace_id_64);
  EXPECT_EQ(context.trace_id.high, 0u);
  EXPECT_EQ(context.trace_id.low, 0x64fe8b2a57d3eff7ULL);
  EXPECT_EQ(context.sampling, Sampling::kDrop);

  EXPECT_EQ(parsedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-d").sampling, Sampling::kDebug);
}

TEST(B3SingleTest, SamplingStateAlone) {
  for (auto [value, sampling] : {std::pair{"0", Sampling::kDrop}, std::pair{"1", Sampling::kSample},
                                 std::pair{"d", Sampling::kDebug}}) {
    TraceContext context = parsedB3(value);
    EXPECT_EQ(context.sampling, sampling);
    EXPECT_FALSE(context.hasIds());
  }
  expectMalformedB3("2");
  expectMalformedB3("D");
  expectMalformedB3("");
}

TEST(B3SingleTest, RejectsMalformedForms) {
  expectMalformedB3("80f198ee56343ba864fe8b2a57d3eff7");                  // no span
  expectMalformedB3("80f198ee56343ba864fe8b2a57d3eff7-");                 // empty span
  expectMalformedB3("80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1");  // 31
  expectMalformedB3("0f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1");  // 31 again
  expectMalformedB3("64fe8b2a57d3eff-e457b5a2e4d86bd1");                  // 15
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd");                  // span 15
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd10");                // span 17
  expectMalformedB3("64FE8B2A57D3EFF7-e457b5a2e4d86bd1");                 // upper case
  expectMalformedB3("64fe8b2a57d3eff7-E457B5A2E4D86BD1");
  expectMalformedB3("0000000000000000-e457b5a2e4d86bd1");  // zero trace
  expectMalformedB3("00000000000000000000000000000000-e457b5a2e4d86bd1");
  expectMalformedB3("64fe8b2a57d3eff7-0000000000000000");    // zero span
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-2");  // sampling
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-");
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-true");
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-");                    // empty parent
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9");     // parent 15
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x");  // trailing
  expectMalformedB3("64fe8b2a57d3eff7-e457b5a2e4d86bd1-05e3ac9a4f6e3b90");      // no sampling
  expectMalformedB3("-e457b5a2e4d86bd1");
  expectMalformedB3("64fe8b2a57d3eff7_e457b5a2e4d86bd1");
}

TEST(B3SingleTest, FormatsEveryForm) {
  char out[kMaxB3SingleSize];
  const TraceId trace{0x80f198ee56343ba8ULL, 0x64fe8b2a57d3eff7ULL};
  size_t size = formatB3Single(trace, false, 0xe457b5a2e4d86bd1ULL, Sampling::kSample,
                               0x05e3ac9a4f6e3b90ULL, out);
  EXPECT_EQ(absl::string_view(out, size),
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90");
  size = formatB3Single(TraceId{0, 0x64fe8b2a57d3eff7ULL}, true, 0xe457b5a2e4d86bd1ULL,
                        Sampling::kDebug, 0, out);
  EXPECT_EQ(absl::string_view(out, size), "64fe8b2a57d3eff7-e457b5a2e4d86bd1-d");
  size = formatB3Single(trace, false, 1, Sampling::kDrop, 0, out);
  EXPECT_EQ(absl::string_view(out, size), "80f198ee56343ba864fe8b2a57d3eff7-0000000000000001-0");
  // The longest form fits the advertised size.
  EXPECT_LE(formatB3Single(trace, false, 1, Sampling::kUnset, 1, out), kMaxB3SingleSize);
}

B3Headers multi(std::optional<absl::string_view> trace, std::optional<absl::string_view> span,
                std::optional<absl::string_view> parent = std::nullopt,
                std::optional<absl::string_view> sampled = std::nullopt,
                std::optional<absl::string_view> flags = std::nullopt) {
  B3Headers headers;
  headers.trace_id = trace;
  headers.span_id = span;
  headers.parent_span_id = parent;
  headers.sampled = sampled;
  headers.flags = flags;
  return headers;
}

ParseResult parseMulti(const B3Headers& headers, TraceContext* out = nullptr) {
  TraceContext context;
  ParseResult result = parseB3Multi(headers, context);
  if (out != nullptr) *out = context;
  return result;
}

TEST(B3MultiTest, ParsesIdsAndDecisions) {
  EXPECT_EQ(parseMulti(B3Headers{}), ParseResult::kAbsent);
  TraceContext context;
  ASSERT_EQ(parseMulti(multi("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312",
                             "0020000000000001", "1"),
                       &context),
            ParseResult::kValid);
  EXPECT_EQ(context.trace_id.high, 0x463ac35c9f6413adULL);
  EXPECT_EQ(context.span_id, 0xa2fb4a1d1a96d312ULL);
  EXPECT_EQ(context.parent_span_id, 0x0020000000000001ULL);
  EXPECT_EQ(context.sampling, Sampling::kSample);

  ASSERT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d312"), &context),
            ParseResult::kValid);
  EXPECT_TRUE(context.b3_trace_id_64);
  EXPECT_EQ(context.sampling, Sampling::kUnset);

  // Older tracers' spelling.
  ASSERT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d312", {}, "false"), &context),
            ParseResult::kValid);
  EXPECT_EQ(context.sampling, Sampling::kDrop);
  ASSERT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d312", {}, "true"), &context),
            ParseResult::kValid);
  EXPECT_EQ(context.sampling, Sampling::kSample);

  // Debug implies sampled, whatever x-b3-sampled says.
  ASSERT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d312", {}, "0", "1"), &context),
            ParseResult::kValid);
  EXPECT_EQ(context.sampling, Sampling::kDebug);

  // A decision without ids.
  ASSERT_EQ(parseMulti(multi({}, {}, {}, "0"), &context), ParseResult::kValid);
  EXPECT_FALSE(context.hasIds());
  EXPECT_EQ(context.sampling, Sampling::kDrop);
  ASSERT_EQ(parseMulti(multi({}, {}, {}, {}, "1"), &context), ParseResult::kValid);
  EXPECT_EQ(context.sampling, Sampling::kDebug);
}

TEST(B3MultiTest, RejectsMalformedForms) {
  EXPECT_EQ(parseMulti(multi("48485a3953bb6124", {})), ParseResult::kMalformed);  // half
  EXPECT_EQ(parseMulti(multi({}, "a2fb4a1d1a96d312")), ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi({}, {}, "a2fb4a1d1a96d312")), ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("48485a3953bb612", "a2fb4a1d1a96d312")), ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("463ac35c9f6413ad48485a3953bb61240", "a2fb4a1d1a96d312")),
            ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("48485A3953BB6124", "a2fb4a1d1a96d312")), ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("0000000000000000", "a2fb4a1d1a96d312")), ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("48485a3953bb6124", "0000000000000000")), ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d31")), ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d312", "zz")),
            ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d312", {}, "yes")),
            ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d312", {}, "")),
            ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("48485a3953bb6124", "a2fb4a1d1a96d312", {}, {}, "2")),
            ParseResult::kMalformed);
  EXPECT_EQ(parseMulti(multi("", "")), ParseResult::kMalformed);
}

TEST(HexTest, TraceIdWidths) {
  char out[kTraceIdHexSize];
  const TraceId id{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  ASSERT_EQ(formatTraceId(id, false, out), 32u);
  EXPECT_EQ(absl::string_view(out, 32), "0123456789abcdeffedcba9876543210");
  ASSERT_EQ(formatTraceId(id, true, out), 16u);
  EXPECT_EQ(absl::string_view(out, 16), "fedcba9876543210");
  TraceId parsed;
  bool is_64 = true;
  ASSERT_TRUE(parseTraceIdHex("0123456789abcdeffedcba9876543210", parsed, is_64));
  EXPECT_EQ(parsed, id);
  EXPECT_FALSE(is_64);
}

}  // namespace
}  // namespace skiff::tracing
