#include "server/protocol_detector.h"

#include "gtest/gtest.h"

namespace skiff::server {
namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

TEST(ClassifyFirstBytesTest, Http2PrefaceNeedsAll24Bytes) {
  EXPECT_EQ(classifyFirstBytes("PRI * HT", false), DetectedProtocol::kNeedMoreBytes);
  EXPECT_EQ(classifyFirstBytes(kPreface, false), DetectedProtocol::kHttp2);
  EXPECT_EQ(classifyFirstBytes(std::string(kPreface) + "\x00\x00\x12\x04", true),
            DetectedProtocol::kHttp2);
}

TEST(ClassifyFirstBytesTest, WithoutFallbackEverythingElseIsHttp1) {
  EXPECT_EQ(classifyFirstBytes("GET / HTTP/1.1\r\n", false), DetectedProtocol::kHttp1);
  EXPECT_EQ(classifyFirstBytes("\x16\x03\x01", false), DetectedProtocol::kHttp1);
  EXPECT_EQ(classifyFirstBytes("PRX", false), DetectedProtocol::kHttp1);
}

TEST(ClassifyFirstBytesTest, WithFallbackARequestLineIsHttp1AndTheRestTcp) {
  EXPECT_EQ(classifyFirstBytes("GET / HTTP/1.1\r\n", true), DetectedProtocol::kHttp1);
  EXPECT_EQ(classifyFirstBytes("POST /x", true), DetectedProtocol::kHttp1);
  EXPECT_EQ(classifyFirstBytes("GE", true), DetectedProtocol::kNeedMoreBytes);
  EXPECT_EQ(classifyFirstBytes("\x16\x03\x01\x02", true), DetectedProtocol::kTcp);  // TLS
  EXPECT_EQ(classifyFirstBytes("ping\r\n", true), DetectedProtocol::kTcp);
  EXPECT_EQ(classifyFirstBytes(" GET", true), DetectedProtocol::kTcp);
  EXPECT_EQ(classifyFirstBytes("AAAAAAAAAAAAAAAAAAAAAAAA", true), DetectedProtocol::kTcp);
  EXPECT_EQ(classifyFirstBytes("", true), DetectedProtocol::kNeedMoreBytes);
}

}  // namespace
}  // namespace skiff::server
