// ActiveStream, the stream around the filter chain, with a chain the test writes in place of
// the router: what reaches the connection, local replies (plain and gRPC), resets once the
// response has started, the record (StreamInfo) and the stats it leaves.

#include "http/active_stream.h"

#include <memory>
#include <string>
#include <vector>

#include "event/dispatcher.h"
#include "event/simulated_time_system.h"
#include "gtest/gtest.h"
#include "net/connection.h"
#include "net/listener.h"
#include "router/route_table.h"
#include "server/worker_context.h"
#include "stats/stats.h"
#include "test_worker.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::http {
namespace {

using std::chrono::milliseconds;

// The connection's side: what the stream asked it to send.
struct RecordingEncoder : ResponseEncoder {
  int status = 0;
  bool head_end = false;
  std::string body;
  bool end = false;
  std::string flags;
  std::string grpc_status;
  int completions = 0;
  bool reset = false;
  std::vector<bool> read_disables;
  void encodeHead(ResponseHead& head, bool end_stream) override {
    status = head.status;
    head_end = end_stream;
    end = end_stream;
    if (const std::string* f = head.headers.get("x-skiff-flags")) flags = *f;
    if (const std::string* g = head.headers.get("grpc-status")) grpc_status = *g;
  }
  void encodeData(Buffer& data, bool end_stream) override {
    body += data.toString();
    data.clear();
    end = end_stream;
  }
  void encodeTrailers(const HeaderMap&) override { end = true; }
  void readDisable(bool disable) override { read_disables.push_back(disable); }
  void onStreamComplete(bool was_reset) override {
    ++completions;
    reset = was_reset;
  }
};

// The last filter of the test chain: answers after a delay on simulated time, or sends a
// local reply, as a test sets it up.
class AnsweringFilter : public StreamDecoderFilter {
 public:
  struct Plan {
    int status = 200;
    std::string body = "hello";
    milliseconds delay{0};
    bool head_only_then_fail = false;  // send the head, then fail as an upstream would
  };
  AnsweringFilter(Plan plan, event::Dispatcher& dispatcher) : plan_(plan), dispatcher_(dispatcher) {}
  void setDecoderFilterCallbacks(DecoderFilterCallbacks& callbacks) override {
    callbacks_ = &callbacks;
  }
  FilterStatus decodeHeaders(RequestHead&, bool) override {
    callbacks_->streamInfo().upstream_cluster = "test";
    timer_ = dispatcher_.createTimer([this] { answer(); });
    timer_->enable(plan_.delay);
    return FilterStatus::kContinue;
  }
  void onDestroy() override {
    destroyed = true;
    timer_.reset();
  }
  bool destroyed = false;

 private:
  void answer() {
    ResponseHead head;
    head.status = plan_.status;
    if (plan_.head_only_then_fail) {
      callbacks_->encodeHeaders(std::move(head), false);
      callbacks_->sendLocalReply(503, "UC", "upstream went away");
      return;
    }
    callbacks_->encodeHeaders(std::move(head), false);
    Buffer body;
    body.add(plan_.body);
    callbacks_->encodeData(body, true);
  }
  Plan plan_;
  event::Dispatcher& dispatcher_;
  DecoderFilterCallbacks* callbacks_ = nullptr;
  std::unique_ptr<event::Timer> timer_;
};

class ActiveStreamTest : public ::testing::Test {
 protected:
  ActiveStreamTest()
      : dispatcher_("test", time_),
        worker_(dispatcher_),
        registry_(1),
        stats_(ListenerStats::create(registry_, "test")) {
    config::v1::RouteConfiguration routes;
    auto* host = routes.add_virtual_hosts();
    host->set_name("all");
    host->add_domains("*");
    auto* route = host->add_routes();
    route->set_name("everything");
    route->mutable_match()->set_prefix("/");
    route->mutable_route()->set_cluster("test");
    config_.routes = *router::RouteTable::create(routes);
    config_.stats = &stats_;
    // A connection object for the stream to read its caller from; it never connects.
    auto address = net::parseIpAndPort("127.0.0.1", 9);
    connection_ = net::Connection::connect(dispatcher_, address->get(), milliseconds(1000));
  }

  void useChain(AnsweringFilter::Plan plan) {
    config_.filter_chain = FilterChainFactory();
    config_.filter_chain.add("answer", [this, plan](FilterChainBuilder& chain) {
      auto filter = std::make_unique<AnsweringFilter>(plan, dispatcher_);
      last_filter_ = filter.get();
      chain.addDecoderFilter(std::move(filter));
    });
  }

  std::unique_ptr<ActiveStream> newStream() {
    return std::make_unique<ActiveStream>(worker_, config_, encoder_, remote_ip_, remote_address_,
                                          *connection_);
  }

  static RequestHead get(const std::string& path = "/x", bool grpc = false) {
    RequestHead head;
    head.method = grpc ? "POST" : "GET";
    head.path = path;
    head.authority = "svc";
    if (grpc) {
      head.protocol = Protocol::kHttp2;
      head.headers.add("content-type", "application/grpc");
    }
    return head;
  }

  event::SimulatedTimeSystem time_;
  event::Dispatcher dispatcher_;
  testing::TestWorker worker_;
  stats::Registry registry_;
  ListenerStats stats_;
  HttpListenerConfig config_;
  std::unique_ptr<net::Connection> connection_;
  std::string remote_ip_ = "10.1.2.3";
  std::string remote_address_ = "10.1.2.3:4567";
  RecordingEncoder encoder_;
  AnsweringFilter* last_filter_ = nullptr;
};

TEST_F(ActiveStreamTest, AResponseReachesTheConnectionAndTheStreamEndsOnce) {
  AnsweringFilter::Plan plan;
  plan.delay = milliseconds(30);
  useChain(plan);
  auto stream = newStream();
  stream->decodeHead(get(), true);
  EXPECT_TRUE(stream->requestComplete());
  EXPECT_EQ(encoder_.status, 0);
  time_.advanceTimeAndRun(milliseconds(30));
  EXPECT_EQ(encoder_.status, 200);
  EXPECT_EQ(encoder_.body, "hello");
  EXPECT_EQ(encoder_.completions, 1);
  EXPECT_FALSE(encoder_.reset);
  EXPECT_TRUE(stream->complete());
  EXPECT_TRUE(last_filter_->destroyed);
  EXPECT_EQ(stats_.requests_total.value(200), 1u);
  EXPECT_EQ(stats_.requests_active.value(), 1);  // until the connection destroys the stream
  stream.reset();
  EXPECT_EQ(stats_.requests_active.value(), 0);
}

TEST_F(ActiveStreamTest, ALocalReplyIsTextWithItsFlag) {
  useChain({});
  auto stream = newStream();
  stream->sendLocalReply(429, "RL", "slow down");
  EXPECT_EQ(encoder_.status, 429);
  EXPECT_EQ(encoder_.flags, "RL");
  EXPECT_EQ(encoder_.body, "slow down\n");
  EXPECT_EQ(encoder_.completions, 1);
  EXPECT_FALSE(encoder_.reset);
}

TEST_F(ActiveStreamTest, AGrpcLocalReplyIsTrailersOnly) {
  useChain({});
  auto stream = newStream();
  // No route configuration at all: the safety net answers, in gRPC's terms.
  config_.routes = nullptr;
  stream->decodeHead(get("/pkg.Svc/Call", /*grpc=*/true), true);
  EXPECT_EQ(encoder_.status, 200);
  EXPECT_TRUE(encoder_.head_end);
  EXPECT_EQ(encoder_.grpc_status, "12");  // UNIMPLEMENTED for no route
  EXPECT_EQ(encoder_.flags, "NR");
}

TEST_F(ActiveStreamTest, AFailureAfterTheResponseStartedResetsTheStream) {
  AnsweringFilter::Plan plan;
  plan.head_only_then_fail = true;
  useChain(plan);
  auto stream = newStream();
  stream->decodeHead(get(), true);
  time_.advanceTimeAndRun(milliseconds(0));
  EXPECT_EQ(encoder_.status, 200);  // the head went out ...
  EXPECT_EQ(encoder_.completions, 1);
  EXPECT_TRUE(encoder_.reset);  // ... so the failure can only be a reset
  EXPECT_TRUE(encoder_.body.empty());
}

TEST_F(ActiveStreamTest, TheClientGoingAwayEndsTheChain) {
  AnsweringFilter::Plan plan;
  plan.delay = milliseconds(100);
  useChain(plan);
  auto stream = newStream();
  stream->decodeHead(get(), false);
  stream->abort("DC");
  EXPECT_TRUE(last_filter_->destroyed);
  EXPECT_EQ(encoder_.completions, 1);
  EXPECT_TRUE(encoder_.reset);
  EXPECT_EQ(stats_.requests_total.value(499), 1u);  // nginx's "client closed request"
  time_.advanceTimeAndRun(milliseconds(200));  // the filter's timer died with it
  EXPECT_EQ(encoder_.status, 0);
}

}  // namespace
}  // namespace skiff::http
