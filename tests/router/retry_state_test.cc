// RetryPolicy (compiling retry_policy) and RetryState (which outcomes go again, and the
// back-off), without I/O.

#include "router/retry_state.h"

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace skiff::router {
namespace {

using Kind = RetryState::TryOutcome::Kind;
using std::chrono::milliseconds;

RetryState::TryOutcome response(int status, int grpc_status = -1) {
  RetryState::TryOutcome outcome;
  outcome.kind = Kind::kResponse;
  outcome.status = status;
  outcome.grpc_status = grpc_status;
  return outcome;
}

RetryState::TryOutcome ended(Kind kind) {
  RetryState::TryOutcome outcome;
  outcome.kind = kind;
  return outcome;
}

RetryPolicy compile(const std::string& conditions_csv, uint32_t retries = 1) {
  config::v1::RetryPolicy config;
  for (absl::string_view c : absl::StrSplit(conditions_csv, ',', absl::SkipEmpty())) {
    config.add_retry_on(std::string(c));
  }
  config.mutable_num_retries()->set_value(retries);
  auto policy = RetryPolicy::create(config, "retry_policy");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *policy;
}

// Random numbers the test chooses.
class FixedRandom : public Random {
 public:
  explicit FixedRandom(uint64_t value) : value_(value) {}
  uint64_t next() override { return value_; }

 private:
  uint64_t value_;
};

TEST(RetryPolicyTest, UnknownConditionsAndLimitsAreRefusedWithTheirPath) {
  config::v1::RetryPolicy config;
  config.add_retry_on("5xx");
  config.add_retry_on("sometimes");
  auto policy = RetryPolicy::create(config, "routes[0].route.retry_policy");
  ASSERT_FALSE(policy.ok());
  EXPECT_NE(policy.status().message().find("routes[0].route.retry_policy.retry_on[1]: unknown "
                                           "\"sometimes\""),
            std::string::npos)
      << policy.status();

  config.clear_retry_on();
  config.mutable_num_retries()->set_value(11);
  EXPECT_NE(RetryPolicy::create(config, "p").status().message().find("p.num_retries"),
            std::string::npos);

  config.clear_num_retries();
  config.add_retry_on("retriable-status-codes");
  EXPECT_NE(RetryPolicy::create(config, "p").status().message().find("p.retriable_status_codes"),
            std::string::npos);
}

TEST(RetryPolicyTest, TheTransparentRetryIsAlwaysThere) {
  RetryPolicy none = RetryPolicy::transparentOnly();
  EXPECT_FALSE(none.configured);
  EXPECT_EQ(none.num_retries, 1u);
  EXPECT_TRUE(none.has(RetryPolicy::kConnectFailure));
  EXPECT_FALSE(none.has(RetryPolicy::k5xx));
  RetryPolicy five = compile("5xx");
  EXPECT_TRUE(five.has(RetryPolicy::kConnectFailure));
  EXPECT_TRUE(five.has(RetryPolicy::kRefusedStream));
}

TEST(RetryStateTest, StatusConditions) {
  RetryPolicy gateway = compile("gateway-error", 10);
  RetryState state(gateway, /*idempotent=*/true);
  EXPECT_EQ(state.decide(response(503), true), RetryState::Decision::kRetry);
  EXPECT_EQ(state.decide(response(500), true), RetryState::Decision::kNotRetriable);
  EXPECT_EQ(state.decide(response(404), true), RetryState::Decision::kNotRetriable);

  RetryPolicy codes;
  config::v1::RetryPolicy config;
  config.add_retry_on("retriable-status-codes");
  config.add_retriable_status_codes(409);
  codes = *RetryPolicy::create(config, "p");
  RetryState by_code(codes, true);
  EXPECT_EQ(by_code.decide(response(409), true), RetryState::Decision::kRetry);
  EXPECT_EQ(by_code.decide(response(503), true), RetryState::Decision::kNotRetriable);
}

TEST(RetryStateTest, WhatTheApplicationMayHaveSeenIsRepeatedOnlyForIdempotentMethods) {
  RetryPolicy policy = compile("5xx,reset", 10);
  RetryState post(policy, /*idempotent=*/false);
  EXPECT_EQ(post.decide(response(503), true), RetryState::Decision::kNotRetriable);
  EXPECT_EQ(post.decide(ended(Kind::kReset), true), RetryState::Decision::kNotRetriable);
  EXPECT_EQ(post.decide(ended(Kind::kConnectFailure), true), RetryState::Decision::kRetry);
  EXPECT_EQ(post.decide(ended(Kind::kRefused), true), RetryState::Decision::kRetry);
  RetryState get(policy, /*idempotent=*/true);
  EXPECT_EQ(get.decide(ended(Kind::kReset), true), RetryState::Decision::kRetry);
  EXPECT_EQ(get.decide(ended(Kind::kPerTryTimeout), true), RetryState::Decision::kRetry);
  EXPECT_TRUE(RetryState::idempotentMethod("PUT"));
  EXPECT_FALSE(RetryState::idempotentMethod("PATCH"));
}

TEST(RetryStateTest, ABodyThatWasNotKeptIsNeverSentAgain) {
  RetryPolicy policy = compile("connect-failure");
  RetryState state(policy, true);
  EXPECT_EQ(state.decide(ended(Kind::kConnectFailure), /*body_replayable=*/false),
            RetryState::Decision::kNotRetriable);
}

TEST(RetryStateTest, TheLimitCountsRetriesNotTries) {
  RetryPolicy policy = compile("5xx", 2);
  RetryState state(policy, true);
  EXPECT_EQ(state.decide(response(500), true), RetryState::Decision::kRetry);
  EXPECT_EQ(state.decide(response(500), true), RetryState::Decision::kRetry);
  EXPECT_EQ(state.decide(response(500), true), RetryState::Decision::kLimitExceeded);
  EXPECT_EQ(state.retriesDone(), 2u);
}

TEST(RetryStateTest, GrpcConditionsReadATrailersOnlyStatus) {
  RetryPolicy policy = compile("unavailable,resource-exhausted", 10);
  RetryState state(policy, /*idempotent=*/true);
  EXPECT_EQ(state.decide(response(200, 14), true), RetryState::Decision::kRetry);
  EXPECT_EQ(state.decide(response(200, 8), true), RetryState::Decision::kRetry);
  EXPECT_EQ(state.decide(response(200, 13), true), RetryState::Decision::kNotRetriable);
  EXPECT_EQ(state.decide(response(200), true), RetryState::Decision::kNotRetriable);
  RetryState post(policy, /*idempotent=*/false);  // every gRPC call is a POST
  EXPECT_EQ(post.decide(response(200, 14), true), RetryState::Decision::kRetry);
}

TEST(RetryStateTest, BackOffIsFullJitterUnderACappedDoublingCeiling) {
  RetryPolicy policy = compile("5xx", 10);  // base 25 ms, max 250 ms
  RetryState state(policy, true);
  FixedRandom highest(~uint64_t{0});
  const int64_t ceilings[] = {25, 50, 100, 200, 250, 250};
  for (int64_t ceiling : ceilings) {
    ASSERT_EQ(state.decide(response(500), true), RetryState::Decision::kRetry);
    // nextBelow(ceiling) of the largest value: the top of [0, ceiling).
    EXPECT_EQ(state.backoff(highest).count(), static_cast<int64_t>(~uint64_t{0} % ceiling));
    EXPECT_LT(state.backoff(highest).count(), ceiling);
    FixedRandom zero(0);
    EXPECT_EQ(state.backoff(zero).count(), 0);
  }
}

TEST(RetryStateTest, RetryAfterInSeconds) {
  EXPECT_EQ(RetryState::parseRetryAfter("3"), milliseconds(3000));
  EXPECT_EQ(RetryState::parseRetryAfter(" 0 "), milliseconds(0));
  EXPECT_EQ(RetryState::parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(RetryState::parseRetryAfter("-1"), std::nullopt);
}

}  // namespace
}  // namespace skiff::router
