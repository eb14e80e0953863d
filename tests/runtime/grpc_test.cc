#include "http/grpc.h"

#include "gtest/gtest.h"

namespace skiff::http::grpc {
namespace {

HeaderMap headersWith(const std::string& name, const std::string& value) {
  HeaderMap headers;
  headers.add(name, value);
  return headers;
}

TEST(GrpcTest, RecognisesGrpcContentTypes) {
  EXPECT_TRUE(isGrpcRequest(headersWith("content-type", "application/grpc")));
  EXPECT_TRUE(isGrpcRequest(headersWith("content-type", "application/grpc+proto")));
  EXPECT_TRUE(isGrpcRequest(headersWith("content-type", "application/grpc;charset=utf-8")));
  EXPECT_FALSE(isGrpcRequest(headersWith("content-type", "application/grpcweb")));
  EXPECT_FALSE(isGrpcRequest(headersWith("content-type", "application/json")));
  EXPECT_FALSE(isGrpcRequest(HeaderMap()));
}

TEST(GrpcTest, ParsesTimeouts) {
  using std::chrono::milliseconds;
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "2S")), milliseconds(2000));
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "150m")), milliseconds(150));
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "1M")), milliseconds(60000));
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "1H")), milliseconds(3600000));
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "1500u")), milliseconds(2));
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "1n")), milliseconds(1));
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "5")), std::nullopt);
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "5x")), std::nullopt);
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "-5S")), std::nullopt);
  EXPECT_EQ(parseTimeout(headersWith("grpc-timeout", "123456789S")), std::nullopt);
  EXPECT_EQ(parseTimeout(HeaderMap()), std::nullopt);
}

TEST(GrpcTest, LocalReplyStatusFollowsTheFlagThenTheHttpStatus) {
  EXPECT_EQ(statusForLocalReply(504, "UT"), Status::kDeadlineExceeded);
  EXPECT_EQ(statusForLocalReply(503, "UF"), Status::kUnavailable);
  EXPECT_EQ(statusForLocalReply(503, "UH"), Status::kUnavailable);
  EXPECT_EQ(statusForLocalReply(404, "NR"), Status::kUnimplemented);
  EXPECT_EQ(statusForLocalReply(403, ""), Status::kPermissionDenied);
  EXPECT_EQ(statusForLocalReply(502, "UPE"), Status::kUnavailable);
  EXPECT_EQ(statusForLocalReply(418, ""), Status::kUnknown);
}

TEST(GrpcTest, TrailersOnlyResponseCarriesStatusAndEncodedMessage) {
  ResponseHead head;
  fillTrailersOnlyResponse(head, Status::kUnavailable, "upstream 100% down\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(*head.headers.get("content-type"), "application/grpc");
  EXPECT_EQ(*head.headers.get("grpc-status"), "14");
  EXPECT_EQ(*head.headers.get("grpc-message"), "upstream 100%25 down%0A");
}

}  // namespace
}  // namespace skiff::http::grpc
