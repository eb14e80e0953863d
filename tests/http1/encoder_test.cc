#include <string>

#include "codec_test_util.h"
#include "gtest/gtest.h"
#include "http1/codec.h"
#include "http1/parse_util.h"

namespace skiff::http1 {
namespace {

using testing::RequestRecorder;
using testing::ResponseRecorder;

http::RequestHead sampleRequest() {
  http::RequestHead head;
  head.method = "POST";
  head.path = "/api/v1?x=y";
  head.authority = "backend:8080";
  head.headers.add("content-type", "text/plain");
  head.headers.add("x-multi", "1");
  head.headers.add("x-multi", "2");
  return head;
}

TEST(EncoderTest, RequestHead) {
  http::RequestHead head = sampleRequest();
  head.headers.add("content-length", "4");
  Buffer out;
  encodeRequestHead(head, BodyFraming::kContentLength, out);
  EXPECT_EQ(out.toString(),
            "POST /api/v1?x=y HTTP/1.1\r\nhost: backend:8080\r\ncontent-type: text/plain\r\n"
            "x-multi: 1\r\nx-multi: 2\r\ncontent-length: 4\r\n\r\n");
}

TEST(EncoderTest, RequestHeadAlwaysHttp11AndWithoutEmptyHost) {
  http::RequestHead head;
  head.method = "GET";
  head.path = "/";
  head.protocol = http::Protocol::kHttp10;
  Buffer out;
  encodeRequestHead(head, BodyFraming::kNone, out);
  EXPECT_EQ(out.toString(), "GET / HTTP/1.1\r\n\r\n");
}

TEST(EncoderTest, ChunkedOwnsFramingHeaders) {
  http::RequestHead head = sampleRequest();
  head.headers.add("transfer-encoding", "gzip, chunked");
  head.headers.add("content-length", "10");
  Buffer out;
  encodeRequestHead(head, BodyFraming::kChunked, out);
  std::string text = out.toString();
  EXPECT_EQ(text.find("gzip"), std::string::npos);
  EXPECT_EQ(text.find("content-length"), std::string::npos);
  EXPECT_NE(text.find("transfer-encoding: chunked\r\n\r\n"), std::string::npos);
}

TEST(EncoderTest, ResponseHead) {
  http::ResponseHead head;
  head.status = 404;
  head.headers.add("content-length", "0");
  Buffer out;
  encodeResponseHead(head, BodyFraming::kContentLength, out);
  EXPECT_EQ(out.toString(), "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");

  head.protocol = http::Protocol::kHttp10;
  head.reason = "Nope";
  out.clear();
  encodeResponseHead(head, BodyFraming::kContentLength, out);
  EXPECT_EQ(out.toString(), "HTTP/1.0 404 Nope\r\ncontent-length: 0\r\n\r\n");
}

TEST(EncoderTest, Data) {
  Buffer out;
  Buffer data;
  data.add("hello");
  encodeData(BodyFraming::kContentLength, data, false, out);
  EXPECT_TRUE(data.empty());
  EXPECT_EQ(out.toString(), "hello");

  out.clear();
  data.add(std::string(26, 'q'));
  encodeData(BodyFraming::kChunked, data, false, out);
  EXPECT_EQ(out.toString(), "1a\r\n" + std::string(26, 'q') + "\r\n");

  out.clear();
  data.add("xy");
  encodeData(BodyFraming::kChunked, data, true, out);
  EXPECT_EQ(out.toString(), "2\r\nxy\r\n0\r\n\r\n");

  out.clear();
  encodeData(BodyFraming::kChunked, data, true, out);  // empty end
  EXPECT_EQ(out.toString(), "0\r\n\r\n");
  out.clear();
  encodeData(BodyFraming::kChunked, data, false, out);  // nothing at all: no last-chunk
  EXPECT_EQ(out.toString(), "");
}

TEST(EncoderTest, Trailers) {
  http::HeaderMap trailers;
  trailers.add("grpc-status", "0");
  Buffer out;
  encodeTrailers(BodyFraming::kChunked, trailers, out);
  EXPECT_EQ(out.toString(), "0\r\ngrpc-status: 0\r\n\r\n");
  out.clear();
  encodeTrailers(BodyFraming::kContentLength, trailers, out);
  EXPECT_TRUE(out.empty());
}

TEST(EncoderTest, RequestRoundTripChunkedWithTrailers) {
  http::RequestHead head = sampleRequest();
  Buffer wire;
  encodeRequestHead(head, BodyFraming::kChunked, wire);
  Buffer data;
  data.add("first ");
  encodeData(BodyFraming::kChunked, data, false, wire);
  data.add("second");
  encodeData(BodyFraming::kChunked, data, false, wire);
  http::HeaderMap trailers;
  trailers.add("x-checksum", "abc");
  encodeTrailers(BodyFraming::kChunked, trailers, wire);

  RequestRecorder recorder;
  RequestDecoder decoder({}, recorder);
  ASSERT_FALSE(decoder.dispatch(wire));
  ASSERT_TRUE(decoder.messageComplete());
  EXPECT_TRUE(wire.empty());
  ASSERT_EQ(recorder.heads.size(), 1u);
  const http::RequestHead& decoded = recorder.heads[0];
  EXPECT_EQ(decoded.method, head.method);
  EXPECT_EQ(decoded.path, head.path);
  EXPECT_EQ(decoded.authority, head.authority);
  http::HeaderMap expected = head.headers;
  expected.add("transfer-encoding", "chunked");
  EXPECT_EQ(decoded.headers.entries(), expected.entries());
  EXPECT_EQ(recorder.body, "first second");
  ASSERT_EQ(recorder.trailers.size(), 1u);
  EXPECT_EQ(recorder.trailers[0].entries(), trailers.entries());
}

TEST(EncoderTest, ResponseRoundTrip) {
  for (BodyFraming framing :
       {BodyFraming::kContentLength, BodyFraming::kChunked, BodyFraming::kCloseDelimited}) {
    SCOPED_TRACE(static_cast<int>(framing));
    http::ResponseHead head;
    head.status = 201;
    head.headers.add("server", "skiff");
    if (framing == BodyFraming::kContentLength) head.headers.add("content-length", "7");
    Buffer wire;
    encodeResponseHead(head, framing, wire);
    Buffer data;
    data.add("payload");
    encodeData(framing, data, true, wire);

    ResponseRecorder recorder;
    ResponseDecoder decoder({}, recorder);
    decoder.expectResponseTo("POST");
    ASSERT_FALSE(decoder.dispatch(wire));
    if (framing == BodyFraming::kCloseDelimited) ASSERT_FALSE(decoder.onEndOfInput());
    ASSERT_TRUE(decoder.messageComplete());
    ASSERT_EQ(recorder.heads.size(), 1u);
    EXPECT_EQ(recorder.heads[0].status, 201);
    EXPECT_EQ(recorder.heads[0].reason, "Created");
    EXPECT_EQ(*recorder.heads[0].headers.get("server"), "skiff");
    EXPECT_EQ(recorder.body, "payload");
    EXPECT_EQ(recorder.end_count, 1);
  }
}

TEST(KeepAliveTest, Rules) {
  struct {
    http::Protocol protocol;
    const char* connection;  // nullptr: no header
    bool keep_alive;
  } cases[] = {
      {http::Protocol::kHttp11, nullptr, true},
      {http::Protocol::kHttp11, "close", false},
      {http::Protocol::kHttp11, "Keep-Alive, CLOSE", false},
      {http::Protocol::kHttp11, "closed", true},
      {http::Protocol::kHttp11, "upgrade", true},
      {http::Protocol::kHttp10, nullptr, false},
      {http::Protocol::kHttp10, "keep-alive", true},
      {http::Protocol::kHttp10, " Keep-Alive ,foo", true},
      {http::Protocol::kHttp10, "keep-alive, close", false},
      {http::Protocol::kHttp10, "keep-alived", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.connection ? c.connection : "(none)");
    http::HeaderMap headers;
    if (c.connection) headers.add("connection", c.connection);
    EXPECT_EQ(wantsKeepAlive(c.protocol, headers), c.keep_alive);
  }
  http::HeaderMap split;
  split.add("connection", "foo");
  split.add("connection", "close");
  EXPECT_FALSE(wantsKeepAlive(http::Protocol::kHttp11, split));
}

TEST(ParseUtilTest, ChunkSizeLine) {
  uint64_t size = 0;
  EXPECT_TRUE(internal::parseChunkSizeLine("1a", &size));
  EXPECT_EQ(size, 26u);
  EXPECT_TRUE(internal::parseChunkSizeLine("7fffffffffffffff", &size));
  EXPECT_EQ(size, 0x7fffffffffffffffu);
  EXPECT_TRUE(internal::parseChunkSizeLine("00000000000000000000ff", &size));
  EXPECT_EQ(size, 255u);
  EXPECT_TRUE(internal::parseChunkSizeLine("5;name", &size));
  EXPECT_TRUE(internal::parseChunkSizeLine("5 ;a = b ; c=\"q\\\"d\"", &size));
  EXPECT_EQ(size, 5u);
  for (const char* bad : {"", "x", "0x10", "-1", "+1", " 5", "5 ", "5;", "5;=b", "5;a=",
                          "5;a=\"b", "5 x", "8000000000000000", "10000000000000000",
                          "ffffffffffffffffff", "5;a b"}) {
    EXPECT_FALSE(internal::parseChunkSizeLine(bad, &size)) << bad;
  }
}

TEST(ParseUtilTest, ContentLength) {
  uint64_t n = 0;
  EXPECT_TRUE(internal::parseContentLength("0", &n));
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(internal::parseContentLength("9223372036854775807", &n));
  EXPECT_EQ(n, 9223372036854775807u);
  EXPECT_TRUE(internal::parseContentLength("7 ,7,  7", &n));
  EXPECT_EQ(n, 7u);
  for (const char* bad : {"", " ", "-0", "+1", "1e3", "0x1", "1 2", "1,2", "1,", ",1",
                          "9223372036854775808", "18446744073709551616"}) {
    EXPECT_FALSE(internal::parseContentLength(bad, &n)) << bad;
  }
}

TEST(ParseUtilTest, FieldValueBytesAtEveryPosition) {
  absl::string_view name;
  absl::string_view value;
  // Long values go through the word-at-a-time check; every position of a word must count.
  for (size_t pos = 0; pos < 40; ++pos) {
    for (char bad : {'\0', '\x01', '\x1f', '\x7f', '\r', '\n', '\x0b'}) {
      std::string v(40, 'a');
      v[pos] = bad;
      EXPECT_FALSE(internal::parseFieldLine("x: " + v, &name, &value)) << pos << " " << +bad;
    }
    for (char good : {'\t', ' ', '~', '\x80', '\xff', '!'}) {
      std::string v(40, 'a');
      v[pos] = good;
      std::string line = "x: " + v;
      ASSERT_TRUE(internal::parseFieldLine(line, &name, &value)) << pos << " " << +good;
      EXPECT_EQ(name, "x");
    }
  }
}

TEST(ParseUtilTest, Authority) {
  for (const char* good : {"", "a", "a.b-c_d~e", "a:80", "a:", "[::1]", "[::1]:443",
                           "xn--bcher-kva.example", "%41b"}) {
    EXPECT_TRUE(internal::isValidAuthority(good)) << good;
  }
  for (const char* bad : {"u@h", "a b", "a/b", ":80", "a:8x", "a:123456", "[::1", "[]",
                          "[::1]x", "a:1:2", "[g::1]"}) {
    EXPECT_FALSE(internal::isValidAuthority(bad)) << bad;
  }
}

}  // namespace
}  // namespace skiff::http1
