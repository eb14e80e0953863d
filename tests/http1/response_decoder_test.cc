#include <memory>
#include <string>
#include <vector>

#include "codec_test_util.h"
#include "gtest/gtest.h"
#include "http1/codec.h"

namespace skiff::http1 {
namespace {

using testing::feedResponse;
using testing::ResponseRecorder;
using testing::summarize;

struct Decoded {
  std::optional<CodecError> error;
  ResponseRecorder recorder;
  std::string rest;
  bool complete = false;
  bool keep_alive = false;
};

std::unique_ptr<Decoded> decode(absl::string_view wire, absl::string_view method = "GET",
                                size_t step = 0, bool end_of_input = false,
                                CodecLimits limits = {}) {
  auto out = std::make_unique<Decoded>();
  ResponseDecoder decoder(limits, out->recorder);
  decoder.expectResponseTo(method);
  Buffer input;
  out->error = feedResponse(decoder, wire, step, input);
  if (!out->error && end_of_input) out->error = decoder.onEndOfInput();
  out->rest = input.toString();
  out->complete = decoder.messageComplete();
  out->keep_alive = decoder.keepAlive();
  return out;
}

TEST(ResponseDecoderTest, ContentLength) {
  auto d = decode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhelloNEXT");
  ASSERT_FALSE(d->error);
  EXPECT_TRUE(d->complete);
  ASSERT_EQ(d->recorder.heads.size(), 1u);
  EXPECT_EQ(d->recorder.heads[0].status, 200);
  EXPECT_EQ(d->recorder.heads[0].reason, "OK");
  EXPECT_EQ(*d->recorder.heads[0].headers.get("server"), "x");
  EXPECT_EQ(d->recorder.events, (std::vector<std::string>{"head", "end(hello)"}));
  EXPECT_EQ(d->rest, "NEXT");
  EXPECT_TRUE(d->keep_alive);
}

TEST(ResponseDecoderTest, ChunkedWithTrailers) {
  auto d = decode(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n"
      "grpc-status: 0\r\n\r\n");
  ASSERT_FALSE(d->error);
  EXPECT_TRUE(d->complete);
  EXPECT_EQ(d->recorder.events, (std::vector<std::string>{"head", "data(abcd)", "trailers"}));
  EXPECT_EQ(*d->recorder.trailers[0].get("grpc-status"), "0");
  EXPECT_TRUE(d->keep_alive);
}

TEST(ResponseDecoderTest, HostHeaderStaysInResponseHeaders) {
  auto d = decode("HTTP/1.1 204 No Content\r\nHost: a\r\n\r\n");
  ASSERT_FALSE(d->error);
  EXPECT_TRUE(d->recorder.heads[0].headers.has("host"));
}

TEST(ResponseDecoderTest, CloseDelimited) {
  ResponseRecorder recorder;
  ResponseDecoder decoder({}, recorder);
  decoder.expectResponseTo("GET");
  Buffer input;
  input.add("HTTP/1.1 200 OK\r\nX: y\r\n\r\nsome");
  ASSERT_FALSE(decoder.dispatch(input));
  input.add(" more");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_FALSE(decoder.messageComplete());
  EXPECT_FALSE(decoder.keepAlive());
  ASSERT_FALSE(decoder.onEndOfInput());
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_EQ(recorder.events,
            (std::vector<std::string>{"head", "data(some)", "data( more)", "end()"}));
  EXPECT_FALSE(decoder.keepAlive());
}

TEST(ResponseDecoderTest, NonChunkedTransferEncodingIsCloseDelimited) {
  auto d = decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw bytes", "GET", 0, true);
  ASSERT_FALSE(d->error);
  EXPECT_EQ(d->recorder.body, "raw bytes");
  EXPECT_FALSE(d->keep_alive);
}

TEST(ResponseDecoderTest, ResponsesWithoutBody) {
  struct {
    const char* wire;
    const char* method;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", "HEAD"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD"},
      {"HTTP/1.1 204 No Content\r\n\r\n", "GET"},
      {"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.wire);
    auto d = decode(std::string(c.wire) + "HTTP/1.1 200 OK\r\n", c.method);
    ASSERT_FALSE(d->error);
    EXPECT_TRUE(d->complete);
    EXPECT_EQ(d->recorder.events, (std::vector<std::string>{"head+end"}));
    EXPECT_EQ(d->rest, "HTTP/1.1 200 OK\r\n");
    EXPECT_TRUE(d->keep_alive);
  }
}

TEST(ResponseDecoderTest, HeadResponseKeepsContentLength) {
  auto d = decode("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", "HEAD");
  EXPECT_EQ(*d->recorder.heads[0].headers.get("content-length"), "42");
}

TEST(ResponseDecoderTest, InterimResponsesAreSwallowed) {
  auto d = decode(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_FALSE(d->error);
  ASSERT_EQ(d->recorder.heads.size(), 1u);
  EXPECT_EQ(d->recorder.heads[0].status, 201);
  EXPECT_FALSE(d->recorder.heads[0].headers.has("link"));
  EXPECT_EQ(d->recorder.body, "ok");
}

TEST(ResponseDecoderTest, SwitchingProtocolsStops) {
  ResponseRecorder recorder;
  ResponseDecoder decoder({}, recorder);
  decoder.expectResponseTo("GET");
  Buffer input;
  input.add(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
      "\x81\x02hi");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"head+end"}));
  EXPECT_EQ(recorder.heads[0].status, 101);
  EXPECT_EQ(input.toString(), "\x81\x02hi");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(input.length(), 4u);
  EXPECT_FALSE(decoder.keepAlive());
}

TEST(ResponseDecoderTest, KeepAliveRules) {
  struct {
    const char* wire;
    bool keep_alive;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.1 200 OK\r\nConnection: foo, Close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\n\r\n", false},  // close-delimited
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.wire);
    auto d = decode(c.wire);
    ASSERT_FALSE(d->error);
    EXPECT_EQ(d->keep_alive, c.keep_alive);
  }
}

TEST(ResponseDecoderTest, Http10Protocol) {
  auto d = decode("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(d->recorder.heads[0].protocol, http::Protocol::kHttp10);
  EXPECT_EQ(d->recorder.heads[0].status, 404);
}

TEST(ResponseDecoderTest, ReasonPhraseForms) {
  auto empty = decode("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
  ASSERT_FALSE(empty->error);
  EXPECT_EQ(empty->recorder.heads[0].reason, "");
  auto missing = decode("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
  ASSERT_FALSE(missing->error);
  EXPECT_EQ(missing->recorder.heads[0].status, 200);
  auto spaces = decode("HTTP/1.1 500 Internal  Server\tError\r\nContent-Length: 0\r\n\r\n");
  ASSERT_FALSE(spaces->error);
  EXPECT_EQ(spaces->recorder.heads[0].reason, "Internal  Server\tError");
}

TEST(ResponseDecoderTest, MalformedResponses) {
  const std::string cases[] = {
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 abc OK\r\n\r\n",
      "HTTP/1.1 099 Low\r\n\r\n",
      "HTTP/1.1 600 High\r\n\r\n",
      "HTTP/2.0 200 OK\r\n\r\n",
      "HTTP/1.1  200 OK\r\n\r\n",
      "http/1.1 200 OK\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfg\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
      "HTTP/1.1 200 Bad\x01Reason\r\n\r\n",
  };
  for (const auto& wire : cases) {
    SCOPED_TRACE(wire);
    for (size_t step : {size_t{0}, size_t{1}}) {
      auto d = decode(wire, "GET", step);
      ASSERT_TRUE(d->error);
      EXPECT_EQ(d->error->status, 502);
      EXPECT_FALSE(d->keep_alive);
    }
  }
}

TEST(ResponseDecoderTest, Limits) {
  CodecLimits limits;
  limits.max_header_count = 2;
  auto ok = decode("HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0\r\n\r\n", "GET", 0, false,
                   limits);
  EXPECT_FALSE(ok->error);
  auto many = decode("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n", "GET", 0,
                     false, limits);
  ASSERT_TRUE(many->error);
  EXPECT_EQ(many->error->status, 502);

  limits = CodecLimits();
  limits.max_header_bytes = 64;
  auto big = decode("HTTP/1.1 200 OK\r\nA: " + std::string(100, 'a') + "\r\n\r\n", "GET", 1,
                    false, limits);
  ASSERT_TRUE(big->error);
  // max_body_bytes is for requests only.
  limits = CodecLimits();
  limits.max_body_bytes = 2;
  auto body = decode("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "GET", 0, false, limits);
  EXPECT_FALSE(body->error);
  auto chunked = decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                        "GET", 0, false, limits);
  EXPECT_FALSE(chunked->error);
}

TEST(ResponseDecoderTest, EndOfInputMidMessageIsAnError) {
  const std::string cases[] = {
      "",
      "HTTP/1.1 200 OK\r\nContent-",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
  };
  for (const auto& wire : cases) {
    SCOPED_TRACE(wire);
    auto d = decode(wire, "GET", 0, true);
    ASSERT_TRUE(d->error);
    EXPECT_EQ(d->error->status, 502);
    EXPECT_FALSE(d->complete);
    EXPECT_FALSE(d->keep_alive);
  }
  // A complete response followed by a close is fine.
  auto fine = decode("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", "GET", 0, true);
  EXPECT_FALSE(fine->error);
}

TEST(ResponseDecoderTest, ByteAtATimeMatchesWhole) {
  const std::string wires[] = {
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n2\r\nde\r\n0\r\n"
      "A: b\r\n\r\n",
      "HTTP/1.0 200 OK\r\n\r\nuntil the end",
  };
  for (const auto& wire : wires) {
    auto whole = decode(wire, "GET", 0, true);
    ASSERT_FALSE(whole->error);
    std::string expected = summarize(whole->recorder.events, whole->recorder.body);
    for (size_t step = 1; step < 5; ++step) {
      auto pieces = decode(wire, "GET", step, true);
      ASSERT_FALSE(pieces->error);
      EXPECT_EQ(summarize(pieces->recorder.events, pieces->recorder.body), expected);
    }
  }
}

TEST(ResponseDecoderTest, WaitsForNextExpectation) {
  ResponseRecorder recorder;
  ResponseDecoder decoder({}, recorder);
  decoder.expectResponseTo("HEAD");
  Buffer input;
  input.add(
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(recorder.heads.size(), 1u);  // nothing consumed before expectResponseTo
  decoder.expectResponseTo("GET");
  EXPECT_FALSE(decoder.messageComplete());
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"head+end", "head", "end(abc)"}));
  EXPECT_TRUE(input.empty());
}

TEST(ResponseDecoderTest, PipelinedExpectationsQueue) {
  ResponseRecorder recorder;
  ResponseDecoder decoder({}, recorder);
  decoder.expectResponseTo("GET");
  Buffer input;
  input.add("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na");
  ASSERT_FALSE(decoder.dispatch(input));
  // Two more requests go out while the first response is still arriving.
  decoder.expectResponseTo("HEAD");
  decoder.expectResponseTo("GET");
  input.add(
      "bc"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  ASSERT_FALSE(decoder.dispatch(input));  // the queued HEAD
  EXPECT_TRUE(decoder.messageComplete());
  ASSERT_FALSE(decoder.dispatch(input));  // the queued GET
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_TRUE(input.empty());
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"head", "data(a)", "end(bc)", "head+end",
                                                        "head", "end(z)"}));
}

}  // namespace
}  // namespace skiff::http1
