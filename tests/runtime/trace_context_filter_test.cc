// The trace_context filter on its own (driven through fake callbacks): what it reads, what it
// sends upstream, what it records in StreamInfo and counts; and its place in every chain.

#include <memory>
#include <string>
#include <vector>

#include "event/dispatcher.h"
#include "event/simulated_time_system.h"
#include "filters/http/trace_context.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "server/http_filter_chains.h"
#include "stats/stats.h"
#include "test_worker.h"

namespace skiff::filters {
namespace {

using http::ListenerStats;
using tracing::TracingConfig;

class FakeCallbacks : public http::DecoderFilterCallbacks {
 public:
  explicit FakeCallbacks(server::WorkerContext& worker) : worker_(worker) {}
  StreamInfo& streamInfo() override { return info; }
  server::WorkerContext& worker() override { return worker_; }
  const net::Connection& connection() override { std::abort(); }
  const router::RouteEntry* route() override { return nullptr; }
  void sendLocalReply(int, absl::string_view, absl::string_view) override { ADD_FAILURE(); }
  void continueDecoding() override {}
  void encodeHeaders(http::ResponseHead&&, bool) override {}
  void encodeData(Buffer&, bool) override {}
  void encodeTrailers(http::HeaderMap&&) override {}
  void readDisableDownstream(bool) override {}

  StreamInfo info;

 private:
  server::WorkerContext& worker_;
};

constexpr char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

std::string hex16(uint64_t value) {
  char out[16];
  tracing::writeHex64(value, out);
  return std::string(out, 16);
}

class TraceContextFilterTest : public ::testing::Test {
 protected:
  TraceContextFilterTest()
      : dispatcher_("test", time_),
        worker_(dispatcher_),
        registry_(1),
        stats_(ListenerStats::create(registry_, "test")) {
    configure("");
  }

  void configure(const std::string& text) {
    config::v1::Tracing proto;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &proto)) << text;
    auto compiled = TracingConfig::create(proto, "http.tracing");
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    config_ = *compiled;
  }

  // Runs the filter over a request with `headers`; returns what goes upstream.
  http::HeaderMap run(std::vector<std::pair<std::string, std::string>> headers) {
    callbacks_ = std::make_unique<FakeCallbacks>(worker_);
    TraceContextFilter filter(*config_, &stats_);
    filter.setDecoderFilterCallbacks(*callbacks_);
    http::RequestHead head;
    head.method = "GET";
    head.path = "/";
    for (auto& [name, value] : headers) head.headers.add(name, value);
    EXPECT_EQ(filter.decodeHeaders(head, true), http::FilterStatus::kContinue);
    return head.headers;
  }

  const StreamInfo::Trace& trace() const { return callbacks_->info.trace; }
  std::string traceIdHex() const {
    return hex16(trace().trace_id.high) + hex16(trace().trace_id.low);
  }
  // What a correct traceparent for this hop is.
  std::string expectedTraceparent() const {
    return "00-" + traceIdHex() + "-" + hex16(trace().span_id) + "-" +
           (trace().sampled ? "01" : "00");
  }
  uint64_t malformed(ListenerStats::TraceFormat format) {
    return stats_.tracing_malformed[format]->value();
  }
  static std::string value(const http::HeaderMap& headers, const char* name) {
    const std::string* found = headers.get(name);
    return found == nullptr ? "<none>" : *found;
  }

  event::SimulatedTimeSystem time_;
  event::Dispatcher dispatcher_;
  testing::TestWorker worker_;
  stats::Registry registry_;
  ListenerStats stats_;
  std::shared_ptr<const TracingConfig> config_;
  std::unique_ptr<FakeCallbacks> callbacks_;
};

TEST_F(TraceContextFilterTest, KeepsTheTraceIdAndSendsThisHopsSpanAsParent) {
  http::HeaderMap out = run({{"traceparent", kTraceparent}, {"tracestate", "congo=t61rcWkgMzE"}});
  EXPECT_EQ(traceIdHex(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(trace().parent_span_id, 0xb7ad6b7169203331ULL);
  EXPECT_NE(trace().span_id, 0u);
  EXPECT_NE(trace().span_id, trace().parent_span_id);
  EXPECT_TRUE(trace().sampled);  // the caller's decision, whatever the ratio (1%)
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_EQ(out.count("traceparent"), 1u);
  EXPECT_EQ(value(out, "tracestate"), "congo=t61rcWkgMzE");
  EXPECT_EQ(malformed(ListenerStats::kW3cTraceFormat), 0u);
}

TEST_F(TraceContextFilterTest, StartsATraceWhenNoneCameIn) {
  configure("sampling_ratio { value: 1 }");
  http::HeaderMap out = run({{"accept", "*/*"}});
  EXPECT_TRUE(trace().trace_id.valid());
  EXPECT_EQ(trace().parent_span_id, 0u);
  EXPECT_TRUE(trace().sampled);
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_FALSE(out.has("b3"));
  EXPECT_FALSE(out.has("tracestate"));
  // Each request its own trace.
  const std::string first = traceIdHex();
  run({});
  EXPECT_NE(traceIdHex(), first);

  configure("sampling_ratio { value: 0 }");
  out = run({});
  EXPECT_FALSE(trace().sampled);
  EXPECT_EQ(value(out, "traceparent").substr(53), "00");
}

TEST_F(TraceContextFilterTest, AMalformedTraceparentStartsANewTraceAndIsCounted) {
  for (const char* bad : {"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                          "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                          "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "garbage"}) {
    http::HeaderMap out = run({{"traceparent", bad}, {"tracestate", "congo=t61rcWkgMzE"}});
    EXPECT_NE(traceIdHex(), "0af7651916cd43dd8448eb211c80319c") << bad;
    EXPECT_EQ(trace().parent_span_id, 0u) << bad;
    EXPECT_EQ(value(out, "traceparent"), expectedTraceparent()) << bad;
    EXPECT_FALSE(out.has("tracestate")) << bad;  // it belonged to the ignored traceparent
  }
  EXPECT_EQ(malformed(ListenerStats::kW3cTraceFormat), 4u);
  // Twice is malformed too (which one would be right?), and leaves one.
  http::HeaderMap out = run({{"traceparent", kTraceparent}, {"traceparent", kTraceparent}});
  EXPECT_EQ(out.count("traceparent"), 1u);
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_EQ(malformed(ListenerStats::kW3cTraceFormat), 5u);
  EXPECT_EQ(malformed(ListenerStats::kB3TraceFormat), 0u);
}

TEST_F(TraceContextFilterTest, B3SingleInGivesW3cOutAndB3ForThisSpan) {
  http::HeaderMap out =
      run({{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"}});
  EXPECT_EQ(traceIdHex(), "80f198ee56343ba864fe8b2a57d3eff7");
  EXPECT_EQ(trace().parent_span_id, 0xe457b5a2e4d86bd1ULL);
  EXPECT_TRUE(trace().sampled);
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_EQ(value(out, "b3"),
            "80f198ee56343ba864fe8b2a57d3eff7-" + hex16(trace().span_id) + "-1-e457b5a2e4d86bd1");
  // A 64-bit trace id: padded in traceparent, kept 64-bit in B3.
  out = run({{"b3", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-0"}});
  EXPECT_EQ(traceIdHex(), "000000000000000064fe8b2a57d3eff7");
  EXPECT_FALSE(trace().sampled);
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_EQ(value(out, "b3"), "64fe8b2a57d3eff7-" + hex16(trace().span_id) + "-0-e457b5a2e4d86bd1");

  configure("keep_b3 { value: false }");
  out = run({{"b3", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1"}});
  EXPECT_EQ(traceIdHex(), "000000000000000064fe8b2a57d3eff7");
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_FALSE(out.has("b3"));
}

TEST_F(TraceContextFilterTest, B3MultiInGivesMultiOut) {
  http::HeaderMap out = run({{"x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"},
                             {"x-b3-spanid", "a2fb4a1d1a96d312"},
                             {"x-b3-parentspanid", "0020000000000001"},
                             {"x-b3-sampled", "1"}});
  EXPECT_EQ(traceIdHex(), "463ac35c9f6413ad48485a3953bb6124");
  EXPECT_EQ(trace().parent_span_id, 0xa2fb4a1d1a96d312ULL);
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_EQ(value(out, "x-b3-traceid"), "463ac35c9f6413ad48485a3953bb6124");
  EXPECT_EQ(value(out, "x-b3-spanid"), hex16(trace().span_id));
  EXPECT_EQ(value(out, "x-b3-parentspanid"), "a2fb4a1d1a96d312");
  EXPECT_EQ(value(out, "x-b3-sampled"), "1");
  EXPECT_EQ(out.count("x-b3-spanid"), 1u);
  EXPECT_FALSE(out.has("b3"));

  // Debug: x-b3-flags, not x-b3-sampled.
  out = run({{"x-b3-traceid", "48485a3953bb6124"},
             {"x-b3-spanid", "a2fb4a1d1a96d312"},
             {"x-b3-flags", "1"}});
  EXPECT_TRUE(trace().sampled);
  EXPECT_EQ(value(out, "x-b3-traceid"), "48485a3953bb6124");
  EXPECT_EQ(value(out, "x-b3-flags"), "1");
  EXPECT_FALSE(out.has("x-b3-sampled"));
}

TEST_F(TraceContextFilterTest, MalformedB3StartsANewTraceAndIsCounted) {
  http::HeaderMap out = run({{"x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"}});  // no span
  EXPECT_NE(traceIdHex(), "463ac35c9f6413ad48485a3953bb6124");
  EXPECT_EQ(trace().parent_span_id, 0u);
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  // B3 is still answered, for the new trace.
  EXPECT_EQ(value(out, "x-b3-traceid"), traceIdHex());
  out = run({{"b3", "not-b3"}});
  EXPECT_EQ(value(out, "b3").substr(0, 32), traceIdHex());
  EXPECT_EQ(malformed(ListenerStats::kB3TraceFormat), 2u);
  EXPECT_EQ(malformed(ListenerStats::kW3cTraceFormat), 0u);
}

TEST_F(TraceContextFilterTest, AValidTraceparentWinsOverB3) {
  http::HeaderMap out =
      run({{"traceparent", kTraceparent}, {"b3", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-0"}});
  EXPECT_EQ(traceIdHex(), "0af7651916cd43dd8448eb211c80319c");
  // B3 follows the context that was used.
  EXPECT_EQ(value(out, "b3"),
            "0af7651916cd43dd8448eb211c80319c-" + hex16(trace().span_id) + "-1-b7ad6b7169203331");
  // A malformed traceparent gives way to B3.
  out = run({{"traceparent", "00-zz"},
             {"b3", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1"},
             {"tracestate", "a=b"}});
  EXPECT_EQ(traceIdHex(), "000000000000000064fe8b2a57d3eff7");
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_FALSE(out.has("tracestate"));
  EXPECT_EQ(malformed(ListenerStats::kW3cTraceFormat), 1u);
}

TEST_F(TraceContextFilterTest, FormatsNotAcceptedAreIgnoredAndPassThrough) {
  configure("accept: W3C");
  http::HeaderMap out = run({{"b3", "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1"}});
  EXPECT_NE(traceIdHex(), "000000000000000064fe8b2a57d3eff7");
  EXPECT_EQ(value(out, "b3"), "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1");  // untouched
  configure("accept: B3");
  out = run({{"traceparent", kTraceparent}, {"tracestate", "a=b"}});
  EXPECT_NE(traceIdHex(), "0af7651916cd43dd8448eb211c80319c");
  // W3C is always what goes upstream, for this hop's own trace.
  EXPECT_EQ(value(out, "traceparent"), expectedTraceparent());
  EXPECT_FALSE(out.has("tracestate"));
  EXPECT_EQ(malformed(ListenerStats::kW3cTraceFormat), 0u);
}

TEST_F(TraceContextFilterTest, SamplingFollowsTheParentUnlessForced) {
  configure("sampling_ratio { value: 1 }");
  run({{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}});
  EXPECT_FALSE(trace().sampled);  // the parent said no
  http::HeaderMap out =
      run({{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"},
           {"x-skiff-force-trace", "1"}});
  EXPECT_TRUE(trace().sampled);
  EXPECT_EQ(value(out, "traceparent").substr(53), "01");

  configure("sampling_ratio { value: 0 } force_sampling_header: 'X-Debug'");
  run({{"x-debug", "true"}});
  EXPECT_TRUE(trace().sampled);
  run({{"x-debug", "0"}});
  EXPECT_FALSE(trace().sampled);
  run({{"b3", "d"}});  // B3 debug without ids: a new trace, forced
  EXPECT_TRUE(trace().sampled);
  EXPECT_EQ(trace().parent_span_id, 0u);
  // B3 deferred its decision: the ratio decides.
  run({{"b3", "64fe8b2a57d3eff7-e457b5a2e4d86bd1"}});
  EXPECT_FALSE(trace().sampled);
}

TEST_F(TraceContextFilterTest, TheRatioDecidesNewTracesWithinTolerance) {
  configure("sampling_ratio { value: 0.25 }");
  int sampled = 0;
  for (int i = 0; i < 4000; ++i) {
    run({});
    sampled += trace().sampled;
  }
  EXPECT_NEAR(sampled / 4000.0, 0.25, 0.03);
}

TEST_F(TraceContextFilterTest, EveryChainHasItRightAfterProxyHeaders) {
  server::HttpFilterSettings settings;
  settings.stats = &stats_;
  for (auto direction : {config::v1::Listener::INBOUND, config::v1::Listener::OUTBOUND,
                         config::v1::Listener::UNSPECIFIED}) {
    settings.tracing = nullptr;
    EXPECT_EQ(server::buildHttpFilterChain(direction, settings).names(),
              std::vector<std::string>({"proxy_headers", "router"}));
    settings.tracing = config_;
    settings.authorization = nullptr;
    settings.route_rate_limits = true;
    EXPECT_EQ(
        server::buildHttpFilterChain(direction, settings).names(),
        std::vector<std::string>({"proxy_headers", "trace_context", "local_rate_limit", "router"}));
    settings.route_rate_limits = false;
  }
}

}  // namespace
}  // namespace skiff::filters
