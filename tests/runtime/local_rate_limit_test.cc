// The local rate limit filter in a stream (ActiveStream runs the chain: the filter, then a
// filter answering 200 in the router's place), on simulated time: refusals (429 RL,
// retry-after, the counters), the route's limit before the listener's, shadow mode, gRPC; and
// the listeners' chains that include it.

#include "filters/http/local_rate_limit.h"

#include <memory>
#include <string>
#include <vector>

#include "event/dispatcher.h"
#include "event/simulated_time_system.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "http/active_stream.h"
#include "net/connection.h"
#include "net/listener.h"
#include "router/route_rate_limit.h"
#include "server/http_filter_chains.h"
#include "stats/stats.h"
#include "test_worker.h"

namespace skiff::filters {
namespace {

using http::ListenerStats;
using std::chrono::milliseconds;

// What reached the client.
struct Response {
  int status = 0;
  std::string flags;
  std::string retry_after;
  std::string grpc_status;
  std::string body;
};

class CapturingEncoder : public http::ResponseEncoder {
 public:
  Response last;
  void encodeHead(http::ResponseHead& head, bool) override {
    last = Response();
    last.status = head.status;
    auto value = [&](const char* name) {
      const std::string* found = head.headers.get(name);
      return found == nullptr ? std::string() : *found;
    };
    last.flags = value("x-skiff-flags");
    last.retry_after = value("retry-after");
    last.grpc_status = value("grpc-status");
  }
  void encodeData(Buffer& data, bool) override {
    last.body += data.toString();
    data.clear();
  }
  void encodeTrailers(const http::HeaderMap&) override {}
  void readDisable(bool) override {}
  void onStreamComplete(bool) override {}
};

// The router's place: 200 at once.
class OkFilter : public http::StreamDecoderFilter {
 public:
  void setDecoderFilterCallbacks(http::DecoderFilterCallbacks& callbacks) override {
    callbacks_ = &callbacks;
  }
  http::FilterStatus decodeHeaders(http::RequestHead&, bool) override {
    http::ResponseHead head;
    head.status = 200;
    callbacks_->encodeHeaders(std::move(head), true);
    return http::FilterStatus::kContinue;
  }

 private:
  http::DecoderFilterCallbacks* callbacks_ = nullptr;
};

// Routes: "limited" (prefix /limited, with the limit a test gives) and "free" (everything else).
class LocalRateLimitFilterTest : public ::testing::Test {
 protected:
  LocalRateLimitFilterTest()
      : dispatcher_("test", time_),
        worker_(dispatcher_),
        registry_(1),
        stats_(ListenerStats::create(registry_, "test")) {
    config_.stats = &stats_;
    auto address = net::parseIpAndPort("127.0.0.1", 9);
    connection_ = net::Connection::connect(dispatcher_, address->get(), milliseconds(1000));
  }

  static std::unique_ptr<router::LocalRateLimit> limit(const std::string& text) {
    config::v1::LocalRateLimit config;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
    auto compiled = router::LocalRateLimit::create(config, "test");
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    return std::move(*compiled);
  }

  // `route_limit`: the text of the "limited" route's local_rate_limit (empty: none).
  void configure(const std::string& listener_limit, const std::string& route_limit) {
    config::v1::RouteConfiguration routes;
    std::string text = "virtual_hosts { domains: '*' routes { name: 'limited' "
                       "match { prefix: '/limited' } route { cluster: 'c' } ";
    if (!route_limit.empty()) text += "local_rate_limit { " + route_limit + " } ";
    text += "} routes { name: 'free' match { prefix: '/' } route { cluster: 'c' } } }";
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &routes));
    config_.routes = *router::RouteTable::create(routes);
    std::shared_ptr<const router::LocalRateLimit> listener;
    if (!listener_limit.empty()) listener = limit(listener_limit);
    config_.filter_chain = http::FilterChainFactory();
    config_.filter_chain.add("local_rate_limit", LocalRateLimitFilter::factory(listener, stats_));
    config_.filter_chain.add("ok", [](http::FilterChainBuilder& chain) {
      chain.addDecoderFilter(std::make_unique<OkFilter>());
    });
  }

  Response send(const std::string& path, bool grpc = false) {
    http::ActiveStream stream(worker_, config_, encoder_, remote_ip_, remote_address_,
                              *connection_);
    http::RequestHead head;
    head.method = grpc ? "POST" : "GET";
    head.path = path;
    head.authority = "svc";
    if (grpc) {
      head.protocol = http::Protocol::kHttp2;
      head.headers.add("content-type", "application/grpc");
    }
    stream.decodeHead(std::move(head), true);
    return encoder_.last;
  }

  // Statuses of `count` requests to `path`, in order.
  std::vector<int> statuses(const std::string& path, int count) {
    std::vector<int> result;
    for (int i = 0; i < count; ++i) result.push_back(send(path).status);
    return result;
  }

  uint64_t refused(ListenerStats::RateLimitScope scope) { return stats_.rate_limited[scope]->value(); }
  uint64_t shadowed(ListenerStats::RateLimitScope scope) {
    return stats_.rate_limit_shadow[scope]->value();
  }

  event::SimulatedTimeSystem time_;
  event::Dispatcher dispatcher_;
  testing::TestWorker worker_;
  stats::Registry registry_;
  ListenerStats stats_;
  http::HttpListenerConfig config_;
  std::unique_ptr<net::Connection> connection_;
  std::string remote_ip_ = "10.1.2.3";
  std::string remote_address_ = "10.1.2.3:4567";
  CapturingEncoder encoder_;
};

TEST_F(LocalRateLimitFilterTest, AboveTheBurstRequestsGet429WithFlagAndRetryAfter) {
  configure("max_tokens: 3 fill_interval { seconds: 1 }", "");
  EXPECT_EQ(statuses("/a", 3), std::vector<int>({200, 200, 200}));
  Response refused_response = send("/a");
  EXPECT_EQ(refused_response.status, 429);
  EXPECT_EQ(refused_response.flags, "RL");
  EXPECT_EQ(refused_response.retry_after, "1");
  EXPECT_EQ(refused_response.body, "local_rate_limited\n");
  EXPECT_EQ(refused(ListenerStats::kListenerLimit), 1u);
  EXPECT_EQ(stats_.requests_total.value(429), 1u);

  time_.advanceTimeAndRun(milliseconds(1000));  // one fill: one more request
  EXPECT_EQ(statuses("/a", 2), std::vector<int>({200, 429}));
  EXPECT_EQ(send("/a").retry_after, "1");
  EXPECT_EQ(refused(ListenerStats::kListenerLimit), 3u);
  EXPECT_EQ(refused(ListenerStats::kRouteLimit), 0u);
}

TEST_F(LocalRateLimitFilterTest, PassedRequestsCarryNoRetryAfter) {
  configure("max_tokens: 1 fill_interval { seconds: 1 }", "");
  Response ok = send("/a");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.retry_after, "");
  EXPECT_EQ(ok.flags, "");
}

TEST_F(LocalRateLimitFilterTest, RetryAfterIsTheWaitForTheNextFillRoundedUp) {
  configure("max_tokens: 1 fill_interval { seconds: 10 }", "");
  EXPECT_EQ(send("/a").status, 200);
  EXPECT_EQ(send("/a").retry_after, "10");
  time_.advanceTimeAndRun(milliseconds(2500));
  EXPECT_EQ(send("/a").retry_after, "8");  // 7.5s, rounded up
  time_.advanceTimeAndRun(milliseconds(7499));
  EXPECT_EQ(send("/a").retry_after, "1");  // 1ms, still at least 1
}

TEST_F(LocalRateLimitFilterTest, TheRoutesLimitComesFirstAndSpendsNoListenerTokens) {
  configure("max_tokens: 3 fill_interval { seconds: 60 }",
            "max_tokens: 1 fill_interval { seconds: 60 }");
  EXPECT_EQ(statuses("/limited", 3), std::vector<int>({200, 429, 429}));
  EXPECT_EQ(refused(ListenerStats::kRouteLimit), 2u);
  // The listener's bucket lost one token only: the refused requests took none.
  EXPECT_EQ(statuses("/free", 3), std::vector<int>({200, 200, 429}));
  EXPECT_EQ(refused(ListenerStats::kListenerLimit), 1u);
  EXPECT_EQ(send("/limited").status, 429);
  EXPECT_EQ(refused(ListenerStats::kRouteLimit), 3u);
}

TEST_F(LocalRateLimitFilterTest, AListenerRefusalGivesTheRoutesTokenBack) {
  configure("max_tokens: 1 fill_interval { seconds: 1 }",
            "max_tokens: 2 fill_interval { seconds: 3600 }");
  EXPECT_EQ(send("/limited").status, 200);
  EXPECT_EQ(send("/limited").status, 429);  // the listener's bucket is empty
  EXPECT_EQ(refused(ListenerStats::kListenerLimit), 1u);
  time_.advanceTimeAndRun(milliseconds(1000));
  // The route still has the token the refused request took and gave back.
  EXPECT_EQ(send("/limited").status, 200);
  time_.advanceTimeAndRun(milliseconds(1000));
  EXPECT_EQ(send("/limited").status, 429);
  EXPECT_EQ(refused(ListenerStats::kRouteLimit), 1u);
}

TEST_F(LocalRateLimitFilterTest, RoutesWithoutALimitPassWhenOnlyRoutesHaveLimits) {
  configure("", "max_tokens: 1 fill_interval { seconds: 60 }");
  EXPECT_EQ(statuses("/free", 5), std::vector<int>({200, 200, 200, 200, 200}));
  EXPECT_EQ(statuses("/limited", 2), std::vector<int>({200, 429}));
}

TEST_F(LocalRateLimitFilterTest, AShadowLimitCountsButRefusesNothing) {
  configure("max_tokens: 1 fill_interval { seconds: 60 } shadow: true",
            "max_tokens: 2 fill_interval { seconds: 60 } shadow: true");
  for (int i = 0; i < 4; ++i) {
    Response response = send("/limited");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.flags, "");
    EXPECT_EQ(response.retry_after, "");
  }
  EXPECT_EQ(shadowed(ListenerStats::kRouteLimit), 2u);
  EXPECT_EQ(shadowed(ListenerStats::kListenerLimit), 3u);
  EXPECT_EQ(refused(ListenerStats::kRouteLimit), 0u);
  EXPECT_EQ(refused(ListenerStats::kListenerLimit), 0u);
}

TEST_F(LocalRateLimitFilterTest, AGrpcCallIsRefusedWithResourceExhausted) {
  configure("max_tokens: 1 fill_interval { seconds: 5 }", "");
  EXPECT_EQ(send("/pkg.Svc/Call", /*grpc=*/true).status, 200);
  Response refused_call = send("/pkg.Svc/Call", /*grpc=*/true);
  EXPECT_EQ(refused_call.status, 200);  // trailers-only
  EXPECT_EQ(refused_call.grpc_status, "8");
  EXPECT_EQ(refused_call.flags, "RL");
  EXPECT_EQ(refused_call.retry_after, "5");
  EXPECT_EQ(stats_.grpc_responses[8]->value(), 1u);
}

// The chains: the filter is there when the listener or its routes may limit, after
// authorization (denied callers take no tokens) and before the router.
TEST_F(LocalRateLimitFilterTest, EveryDirectionsChainHasTheFilterWhenALimitMayApply) {
  server::HttpFilterSettings settings;
  settings.stats = &stats_;
  for (auto direction : {config::v1::Listener::INBOUND, config::v1::Listener::OUTBOUND,
                         config::v1::Listener::UNSPECIFIED}) {
    settings.rate_limit = nullptr;
    settings.route_rate_limits = false;
    EXPECT_EQ(server::buildHttpFilterChain(direction, settings).names(),
              std::vector<std::string>({"proxy_headers", "router"}));
    settings.rate_limit = limit("max_tokens: 1 fill_interval { seconds: 1 }");
    EXPECT_EQ(server::buildHttpFilterChain(direction, settings).names(),
              std::vector<std::string>({"proxy_headers", "local_rate_limit", "router"}));
    settings.rate_limit = nullptr;
    settings.route_rate_limits = true;
    EXPECT_EQ(server::buildHttpFilterChain(direction, settings).names(),
              std::vector<std::string>({"proxy_headers", "local_rate_limit", "router"}));
  }
}

}  // namespace
}  // namespace skiff::filters
