// The Router (the request) and its UpstreamAttempts, on simulated time, against pools the test
// drives by hand: timeouts without sleeping, the refused-stream retry going to another host,
// pool failure reasons, and the body that waits for a slot.

#include "router/router.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "event/dispatcher.h"
#include "event/simulated_time_system.h"
#include "gtest/gtest.h"
#include "router/route_table.h"
#include "server/worker_context.h"
#include "stats/stats.h"
#include "test_worker.h"
#include "upstream/thread_local_clusters.h"

namespace skiff::router {
namespace {

using std::chrono::milliseconds;

// One exchange the router sent, kept for the test to answer.
class FakeUpstreamRequest : public upstream::UpstreamRequest {
 public:
  struct Log {
    std::string head_path;
    bool head_end = false;
    size_t body = 0;
    bool end = false;
    bool completed = false;
    bool destroyed = false;
  };
  explicit FakeUpstreamRequest(std::shared_ptr<Log> log) : log_(std::move(log)) {}
  ~FakeUpstreamRequest() override { log_->destroyed = true; }
  void setCallbacks(upstream::UpstreamRequestCallbacks* callbacks) override {
    callbacks_ = callbacks;
  }
  void encodeHead(const http::RequestHead& head, bool end_stream) override {
    log_->head_path = head.path;
    log_->head_end = end_stream;
    log_->end = end_stream;
  }
  void encodeData(Buffer& data, bool end_stream) override {
    log_->body += data.length();
    data.clear();
    log_->end = end_stream;
  }
  void encodeTrailers(const http::HeaderMap&) override { log_->end = true; }
  void readDisable(bool) override {}
  void complete() override { log_->completed = true; }
  bool aboveWriteBufferHighWatermark() const override { return false; }
  upstream::UpstreamRequestCallbacks* callbacks() { return callbacks_; }

 private:
  std::shared_ptr<Log> log_;
  upstream::UpstreamRequestCallbacks* callbacks_ = nullptr;
};

// A host's pool whose slots the test hands out (or refuses) by hand.
class FakePool : public upstream::ConnectionPool {
 public:
  explicit FakePool(upstream::ResourceLimit& pending_requests)
      : pending_requests_(pending_requests) {}
  Pending* newStream(upstream::PoolCallbacks& callbacks) override {
    std::unique_ptr<Pending> admitted = Pending::admit(callbacks, pending_requests_);
    if (!admitted) return nullptr;
    waiting_.push_back(std::move(admitted));
    return waiting_.back().get();
  }
  void cancel(Pending* pending) override {
    for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
      if (it->get() == pending) {
        waiting_.erase(it);
        ++cancelled;
        return;
      }
    }
  }
  void drain() override {}

  size_t waiting() const { return waiting_.size(); }
  // Gives the oldest waiter a request; returns it, with its log.
  FakeUpstreamRequest* ready(std::shared_ptr<FakeUpstreamRequest::Log>& log) {
    log = std::make_shared<FakeUpstreamRequest::Log>();
    auto request = std::make_unique<FakeUpstreamRequest>(log);
    FakeUpstreamRequest* raw = request.get();
    std::unique_ptr<Pending> pending = std::move(waiting_.front());
    waiting_.erase(waiting_.begin());
    pending->callbacks.onPoolReady(std::move(request), false);
    return raw;
  }
  void fail(upstream::PoolFailureReason reason) {
    std::unique_ptr<Pending> pending = std::move(waiting_.front());
    waiting_.erase(waiting_.begin());
    pending->callbacks.onPoolFailure(reason);
  }
  int cancelled = 0;

 private:
  upstream::ResourceLimit& pending_requests_;
  std::vector<std::unique_ptr<Pending>> waiting_;
};

// The worker, with pools the test drives (one per host, kept in `pools`).
class FakeWorker : public testing::TestWorker {
 public:
  FakeWorker(event::Dispatcher& dispatcher, std::map<std::string, std::shared_ptr<FakePool>>& pools)
      : TestWorker(dispatcher, [&pools](event::Dispatcher&, upstream::HostSharedPtr host,
                                        upstream::ClusterInfoConstSharedPtr cluster) {
          auto pool = std::make_shared<FakePool>(cluster->breakers->pending_requests);
          pools[host->address] = pool;
          return pool;
        }) {}
};

struct RecordingCallbacks : RouterCallbacks {
  int head_status = 0;
  bool head_end = false;
  int failure_status = 0;
  std::string failure_flag, failure_detail;
  std::vector<bool> write_blocked;
  void onUpstreamHead(http::ResponseHead&& head, bool end_stream) override {
    head_status = head.status;
    head_end = end_stream;
  }
  void onUpstreamData(Buffer& data, bool) override { data.clear(); }
  void onUpstreamTrailers(http::HeaderMap&&) override {}
  void onUpstreamFailure(int status, absl::string_view flag, absl::string_view detail) override {
    failure_status = status;
    failure_flag = std::string(flag);
    failure_detail = std::string(detail);
  }
  void onUpstreamWriteBlocked(bool blocked) override { write_blocked.push_back(blocked); }
};

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : registry_(1), dispatcher_("test", time_), worker_(dispatcher_, pools_) {}

  // A cluster "backend" with these hosts, and a route to it with a 1 s timeout.
  void setUp(std::vector<std::string> hosts, milliseconds timeout = milliseconds(1000),
             config::v1::Cluster::LbPolicy policy = config::v1::Cluster::ROUND_ROBIN,
             const config::v1::RetryPolicy* retry = nullptr,
             const config::v1::RetryBudget* budget = nullptr,
             const config::v1::CircuitBreakers* breakers = nullptr) {
    auto info = std::make_shared<upstream::ClusterInfo>();
    info->name = "backend";
    info->config.set_name("backend");
    info->config.set_lb_policy(policy);
    if (budget != nullptr) *info->config.mutable_retry_budget() = *budget;
    stats_ = std::make_unique<upstream::ClusterStats>(
        upstream::ClusterStats::create(registry_, "backend"));
    info->stats = stats_.get();
    breakers_ = std::make_unique<upstream::CircuitBreakers>(registry_, "backend");
    if (breakers != nullptr) breakers_->configure(*breakers);
    info->breakers = breakers_.get();
    auto host_vector = std::make_shared<upstream::HostVector>();
    for (const std::string& ip : hosts) host_vector->push_back(*upstream::makeHost(ip, 80, 1));
    info->hosts = host_vector;
    worker_.clusters().update({{"backend", info}});

    config::v1::RouteConfiguration config;
    auto* vhost = config.add_virtual_hosts();
    vhost->set_name("all");
    vhost->add_domains("*");
    auto* route = vhost->add_routes();
    route->set_name("default");
    route->mutable_match()->set_prefix("/");
    route->mutable_route()->set_cluster("backend");
    route->mutable_route()->mutable_timeout()->set_seconds(timeout.count() / 1000);
    route->mutable_route()->mutable_timeout()->set_nanos((timeout.count() % 1000) * 1000000);
    if (retry != nullptr) *route->mutable_route()->mutable_retry_policy() = *retry;
    auto table = RouteTable::create(config);
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *table;
  }

  void start(bool end_stream = true, const std::string& method = "GET", bool grpc = false) {
    http::RequestHead head;
    head.method = method;
    if (grpc) {
      head.headers.add("content-type", "application/grpc");
      info_.grpc = true;
    }
    head.path = "/thing";
    head.authority = "backend";
    route_ = table_->match(head);
    ASSERT_NE(route_, nullptr);
    router_ = std::make_unique<Router>(worker_, callbacks_, *route_, info_);
    router_->decodeHeaders(std::move(head), end_stream);
  }

  FakePool& pool(const std::string& host) { return *pools_.at(host + ":80"); }
  void runDeferred() {  // deferred deletes run on a loop turn
    dispatcher_.post([this] { dispatcher_.exit(); });
    dispatcher_.run();
  }

  event::SimulatedTimeSystem time_;
  // Before the pools: requests waiting in them hold units of the breakers.
  stats::Registry registry_;
  std::unique_ptr<upstream::CircuitBreakers> breakers_;
  event::Dispatcher dispatcher_;
  std::map<std::string, std::shared_ptr<FakePool>> pools_;
  FakeWorker worker_;
  std::unique_ptr<upstream::ClusterStats> stats_;
  std::shared_ptr<const RouteTable> table_;
  const RouteEntry* route_ = nullptr;
  StreamInfo info_;
  RecordingCallbacks callbacks_;
  std::unique_ptr<Router> router_;
};

TEST_F(RouterTest, RouteTimeoutFiresAtItsDeadlineAndAbandonsTheAttempt) {
  setUp({"10.0.0.1"}, milliseconds(1000));
  start();
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  pool("10.0.0.1").ready(log);
  EXPECT_EQ(log->head_path, "/thing");
  EXPECT_TRUE(log->head_end);

  time_.advanceTimeAndRun(milliseconds(999));
  EXPECT_EQ(callbacks_.failure_status, 0);
  time_.advanceTimeAndRun(milliseconds(1));
  EXPECT_EQ(callbacks_.failure_status, 504);
  EXPECT_EQ(callbacks_.failure_flag, "UT");
  runDeferred();
  EXPECT_TRUE(log->destroyed);
  EXPECT_FALSE(log->completed);  // abandoned: its connection is closed, not reused
}

TEST_F(RouterTest, ARefusedRequestIsTriedOnceMoreOnAnotherHost) {
  // RANDOM picks the same host again half the time unless the balancer is steered away from
  // the hosts already tried: over 20 requests, every retry must land on the other host.
  setUp({"10.0.0.1", "10.0.0.2"}, milliseconds(1000), config::v1::Cluster::RANDOM);
  for (int i = 0; i < 20; ++i) {
    info_ = StreamInfo();
    callbacks_ = RecordingCallbacks();
    start();
    std::string first = info_.upstream_host;
    std::shared_ptr<FakeUpstreamRequest::Log> log;
    pools_.at(first)->ready(log)->callbacks()->onReset(upstream::UpstreamResetReason::kRefused);

    EXPECT_EQ(info_.attempt_count, 2u);
    ASSERT_NE(info_.upstream_host, first) << "request " << i;
    std::shared_ptr<FakeUpstreamRequest::Log> retry_log;
    FakeUpstreamRequest* retry = pools_.at(info_.upstream_host)->ready(retry_log);
    retry->callbacks()->onResponseHead(http::ResponseHead{}, true);
    EXPECT_EQ(callbacks_.head_status, 200);
    EXPECT_TRUE(retry_log->completed);
    EXPECT_EQ(callbacks_.failure_status, 0);
    router_.reset();
  }
}

TEST_F(RouterTest, ARefusedRequestIsNotTriedASecondTime) {
  setUp({"10.0.0.1", "10.0.0.2"});
  start();
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  pools_.begin()->second->ready(log)->callbacks()->onReset(
      upstream::UpstreamResetReason::kRefused);
  for (auto& [address, pool] : pools_) {
    if (pool->waiting() > 0) {
      pool->ready(log)->callbacks()->onReset(upstream::UpstreamResetReason::kRefused);
      break;
    }
  }
  EXPECT_EQ(info_.attempt_count, 2u);
  EXPECT_EQ(callbacks_.failure_status, 503);
  EXPECT_EQ(callbacks_.failure_flag, "UC");
}

TEST_F(RouterTest, PoolFailuresSayWhyAfterTheOneTransparentRetry) {
  setUp({"10.0.0.1"});
  start();
  pool("10.0.0.1").fail(upstream::PoolFailureReason::kTlsFailure);
  // The application never saw it: tried once more at once, without any policy.
  EXPECT_EQ(callbacks_.failure_status, 0);
  EXPECT_EQ(pool("10.0.0.1").waiting(), 1u);
  pool("10.0.0.1").fail(upstream::PoolFailureReason::kTlsFailure);
  EXPECT_EQ(callbacks_.failure_status, 503);
  EXPECT_EQ(callbacks_.failure_flag, "UF");
  EXPECT_EQ(callbacks_.failure_detail, "upstream TLS handshake failure to 10.0.0.1:80");
}

TEST_F(RouterTest, BodyWaitsForTheSlotAndPausesTheClientPastALimit) {
  setUp({"10.0.0.1"});
  start(/*end_stream=*/false);
  Buffer part;
  part.add(std::string(1024 * 1024, 'a'));
  router_->decodeData(part, false);
  EXPECT_TRUE(callbacks_.write_blocked.empty());
  part.add("b");
  router_->decodeData(part, true);
  EXPECT_EQ(callbacks_.write_blocked, std::vector<bool>{true});
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  pool("10.0.0.1").ready(log);
  EXPECT_EQ(log->body, 1024u * 1024 + 1);
  EXPECT_TRUE(log->end);
  EXPECT_EQ(callbacks_.write_blocked, (std::vector<bool>{true, false}));
}

TEST_F(RouterTest, ResetWhileWaitingCancelsThePoolSlot) {
  setUp({"10.0.0.1"});
  start();
  EXPECT_EQ(pool("10.0.0.1").waiting(), 1u);
  router_->reset();
  EXPECT_EQ(pool("10.0.0.1").waiting(), 0u);
  EXPECT_EQ(pool("10.0.0.1").cancelled, 1);
  time_.advanceTimeAndRun(milliseconds(5000));  // no timer outlives the reset
  EXPECT_EQ(callbacks_.failure_status, 0);
}

TEST_F(RouterTest, NoHostIsAnsweredUh) {
  setUp({});
  start();
  EXPECT_EQ(callbacks_.failure_status, 503);
  EXPECT_EQ(callbacks_.failure_flag, "UH");
  EXPECT_EQ(info_.attempt_count, 0u);
}

// ---- Retries under a configured policy ----

config::v1::RetryPolicy retryOn(std::vector<std::string> conditions, uint32_t num_retries = 2) {
  config::v1::RetryPolicy policy;
  for (auto& c : conditions) policy.add_retry_on(c);
  policy.mutable_num_retries()->set_value(num_retries);
  return policy;
}

http::ResponseHead status(int code) {
  http::ResponseHead head;
  head.status = code;
  return head;
}

TEST_F(RouterTest, A5xxIsRetriedAfterAJitteredBackOffAndTheTryIsNumbered) {
  auto policy = retryOn({"5xx"});
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy);
  start();
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  FakeUpstreamRequest* first = pool("10.0.0.1").ready(log);
  first->callbacks()->onResponseHead(status(503), true);
  EXPECT_EQ(callbacks_.head_status, 0);  // not forwarded
  EXPECT_TRUE(log->completed);           // a whole response: its connection is reusable
  EXPECT_EQ(pool("10.0.0.1").waiting(), 0u);
  time_.advanceTimeAndRun(milliseconds(25));  // the first back-off is below 25 ms
  ASSERT_EQ(pool("10.0.0.1").waiting(), 1u);
  FakeUpstreamRequest* second = pool("10.0.0.1").ready(log);
  (void)second;
  EXPECT_EQ(info_.attempt_count, 2u);
  second->callbacks()->onResponseHead(status(200), true);
  EXPECT_EQ(callbacks_.head_status, 200);
  EXPECT_EQ(stats_->retries.value(), 1u);
}

TEST_F(RouterTest, RetriesStopAtTheLimitAndTheLastAnswerIsFlaggedUrx) {
  auto policy = retryOn({"5xx"}, 1);
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy);
  start();
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(status(500), true);
  time_.advanceTimeAndRun(milliseconds(25));
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(status(500), true);
  EXPECT_EQ(callbacks_.head_status, 500);  // the last answer goes to the client as it is
  EXPECT_TRUE(info_.hasResponseFlag("URX"));
  EXPECT_EQ(stats_->retry_limit_exceeded.value(), 1u);
}

TEST_F(RouterTest, APostIsNotRetriedOnAStatusButIsOnAConnectFailure) {
  auto policy = retryOn({"5xx", "connect-failure"});
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy);
  start(true, "POST");
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  pool("10.0.0.1").fail(upstream::PoolFailureReason::kConnectFailure);
  time_.advanceTimeAndRun(milliseconds(25));
  ASSERT_EQ(pool("10.0.0.1").waiting(), 1u);  // the application never saw it
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(status(503), true);
  EXPECT_EQ(callbacks_.head_status, 503);  // it may have acted on this one
  EXPECT_EQ(info_.attempt_count, 2u);
}

TEST_F(RouterTest, RetryAfterSetsTheWait) {
  auto policy = retryOn({"gateway-error"});
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy);
  start();
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  http::ResponseHead busy = status(503);
  busy.headers.add("retry-after", "2");
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(std::move(busy), true);
  time_.advanceTimeAndRun(milliseconds(1999));
  EXPECT_EQ(pool("10.0.0.1").waiting(), 0u);
  time_.advanceTimeAndRun(milliseconds(1));
  EXPECT_EQ(pool("10.0.0.1").waiting(), 1u);
}

TEST_F(RouterTest, TheRouteTimeoutBoundsEveryTryTogether) {
  auto policy = retryOn({"5xx"}, 10);
  setUp({"10.0.0.1"}, milliseconds(100), config::v1::Cluster::ROUND_ROBIN, &policy);
  start();
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  http::ResponseHead busy = status(503);
  busy.headers.add("retry-after", "1");
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(std::move(busy), true);
  time_.advanceTimeAndRun(milliseconds(100));
  EXPECT_EQ(callbacks_.failure_status, 504);
  EXPECT_EQ(callbacks_.failure_flag, "UT");
  time_.advanceTimeAndRun(milliseconds(5000));
  EXPECT_EQ(pool("10.0.0.1").waiting(), 0u);  // the waiting retry died with the request
}

TEST_F(RouterTest, APerTryTimeoutIsRetriedAndTheSlowTryAbandoned) {
  auto policy = retryOn({"reset"});
  policy.mutable_per_try_timeout()->set_nanos(50 * 1000000);
  setUp({"10.0.0.1", "10.0.0.2"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy);
  start();
  std::string first = info_.upstream_host;
  std::shared_ptr<FakeUpstreamRequest::Log> slow_log;
  pools_.at(first)->ready(slow_log);
  time_.advanceTimeAndRun(milliseconds(50));
  EXPECT_EQ(stats_->per_try_timeouts.value(), 1u);
  time_.advanceTimeAndRun(milliseconds(25));
  EXPECT_NE(info_.upstream_host, first);
  EXPECT_EQ(pools_.at(info_.upstream_host)->waiting(), 1u);
  runDeferred();
  EXPECT_TRUE(slow_log->destroyed);
  EXPECT_FALSE(slow_log->completed);
}

TEST_F(RouterTest, TheKeptBodyIsSentAgainAndABigOneIsNotRetried) {
  auto policy = retryOn({"5xx"});
  policy.set_retry_non_idempotent(true);
  policy.mutable_max_body_bytes()->set_value(16);
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy);

  start(false, "POST");
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  FakeUpstreamRequest* first = pool("10.0.0.1").ready(log);
  Buffer body;
  body.add("0123456789");
  router_->decodeData(body, true);
  EXPECT_EQ(log->body, 10u);
  first->callbacks()->onResponseHead(status(503), true);
  time_.advanceTimeAndRun(milliseconds(25));
  std::shared_ptr<FakeUpstreamRequest::Log> again;
  pool("10.0.0.1").ready(again);
  EXPECT_EQ(again->body, 10u);
  EXPECT_TRUE(again->end);

  // 17 bytes: more than the policy keeps, so once sent the request cannot go again.
  router_.reset();
  info_ = StreamInfo();
  callbacks_ = RecordingCallbacks();
  start(false, "POST");
  FakeUpstreamRequest* big = pool("10.0.0.1").ready(log);
  body.add("0123456789abcdefg");
  router_->decodeData(body, true);
  big->callbacks()->onResponseHead(status(503), true);
  EXPECT_EQ(callbacks_.head_status, 503);
  EXPECT_EQ(info_.attempt_count, 1u);
}

TEST_F(RouterTest, GrpcUnavailableInATrailersOnlyResponseIsRetried) {
  auto policy = retryOn({"unavailable"});
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy);
  start(true, "POST", /*grpc=*/true);
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  http::ResponseHead unavailable = status(200);
  unavailable.headers.add("grpc-status", "14");
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(std::move(unavailable), true);
  time_.advanceTimeAndRun(milliseconds(25));
  EXPECT_EQ(pool("10.0.0.1").waiting(), 1u);
  EXPECT_EQ(callbacks_.head_status, 0);
}

TEST_F(RouterTest, ARetryOverTheBudgetIsNotMadeAndIsFlagged) {
  auto policy = retryOn({"5xx"});
  config::v1::RetryBudget none;
  none.mutable_budget_percent()->set_value(0);
  none.mutable_min_retry_concurrency()->set_value(0);
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy, &none);
  start();
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(status(503), true);
  EXPECT_EQ(callbacks_.head_status, 503);
  EXPECT_TRUE(info_.hasResponseFlag("UO"));
  EXPECT_EQ(stats_->retry_overflow.value(), 1u);
}

// ---- Circuit breakers ----

config::v1::CircuitBreakers limits(int requests, int pending, int retries) {
  config::v1::CircuitBreakers config;
  if (requests >= 0) config.mutable_max_requests()->set_value(requests);
  if (pending >= 0) config.mutable_max_pending_requests()->set_value(pending);
  if (retries >= 0) config.mutable_max_retries()->set_value(retries);
  return config;
}

TEST_F(RouterTest, ARequestOverMaxRequestsIsAnsweredUoAtOnce) {
  auto breakers = limits(1, -1, -1);
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, nullptr, nullptr,
        &breakers);
  ASSERT_TRUE(breakers_->requests.tryAcquire());  // another request holds the only slot
  start();
  EXPECT_EQ(callbacks_.failure_status, 503);
  EXPECT_EQ(callbacks_.failure_flag, "UO");
  EXPECT_NE(callbacks_.failure_detail.find("max_requests"), std::string::npos);
  EXPECT_EQ(pools_.count("10.0.0.1:80"), 0u);  // never reached a pool
  EXPECT_EQ(breakers_->requests.count(), 1u);
}

TEST_F(RouterTest, ARequestHoldsItsSlotUntilItEndsAndRetriesDoNotTakeAnother) {
  auto policy = retryOn({"5xx"});
  auto breakers = limits(1, -1, -1);
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy, nullptr,
        &breakers);
  start();
  EXPECT_EQ(breakers_->requests.count(), 1u);
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(status(503), true);
  EXPECT_EQ(breakers_->retries.count(), 1u);
  time_.advanceTimeAndRun(milliseconds(25));
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(status(200), true);
  EXPECT_EQ(callbacks_.head_status, 200);
  EXPECT_EQ(breakers_->requests.count(), 0u);
  EXPECT_EQ(breakers_->retries.count(), 0u);
}

TEST_F(RouterTest, APoolOverMaxPendingRequestsIsAnsweredUoWithoutARetry) {
  auto policy = retryOn({"5xx", "connect-failure"});
  auto breakers = limits(-1, 0, -1);
  setUp({"10.0.0.1", "10.0.0.2"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy,
        nullptr, &breakers);
  start();
  EXPECT_EQ(callbacks_.failure_status, 503);
  EXPECT_EQ(callbacks_.failure_flag, "UO");
  EXPECT_EQ(info_.attempt_count, 1u);
  EXPECT_EQ(breakers_->requests.count(), 0u);
}

TEST_F(RouterTest, ARetryOverMaxRetriesIsNotMadeAndIsFlagged) {
  auto policy = retryOn({"5xx"});
  auto breakers = limits(-1, -1, 0);
  setUp({"10.0.0.1"}, milliseconds(5000), config::v1::Cluster::ROUND_ROBIN, &policy, nullptr,
        &breakers);
  start();
  std::shared_ptr<FakeUpstreamRequest::Log> log;
  pool("10.0.0.1").ready(log)->callbacks()->onResponseHead(status(503), true);
  EXPECT_EQ(callbacks_.head_status, 503);
  EXPECT_TRUE(info_.hasResponseFlag("UO"));
  EXPECT_EQ(stats_->retry_overflow.value(), 1u);
}

TEST(ClusterResourcesTest, RetryBudgetIsAShareOfActiveRequestsWithAFloor) {
  upstream::ClusterResources resources;
  config::v1::RetryBudget defaults;  // 20%, at least 3
  resources.active_requests = 10;
  resources.active_retries = 2;
  EXPECT_TRUE(resources.retryAllowed(defaults));
  resources.active_retries = 3;
  EXPECT_FALSE(resources.retryAllowed(defaults));
  resources.active_requests = 100;
  resources.active_retries = 19;
  EXPECT_TRUE(resources.retryAllowed(defaults));
  resources.active_retries = 20;
  EXPECT_FALSE(resources.retryAllowed(defaults));
}

}  // namespace
}  // namespace skiff::router
