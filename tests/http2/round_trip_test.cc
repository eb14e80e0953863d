// ServerCodec and ClientCodec wired back to back in memory.

#include <gtest/gtest.h>

#include "http2/codec.h"
#include "http2_test_util.h"

namespace skiff::http2 {
namespace {

using testing::framesOfType;
using testing::pump;
using testing::RecordingClient;
using testing::RecordingServer;

class RoundTripTest : public ::testing::Test {
 protected:
  void SetUp() override { start(Http2Settings(), Http2Settings()); }

  void start(const Http2Settings& server_settings, const Http2Settings& client_settings) {
    server_ = std::make_unique<ServerCodec>(server_settings, server_cb_);
    client_ = std::make_unique<ClientCodec>(client_settings, client_cb_);
    server_cb_.codec = server_.get();
    client_cb_.codec = client_.get();
    pump(*client_, *server_);
  }

  http::RequestHead request(std::string method = "GET", std::string path = "/hello") {
    http::RequestHead head;
    head.method = std::move(method);
    head.path = std::move(path);
    head.authority = "backend.local";
    head.scheme = "https";
    head.headers.add("user-agent", "skiff-test");
    return head;
  }

  int32_t open(const http::RequestHead& head, bool end_stream) {
    absl::StatusOr<int32_t> id = client_->newStream(head, end_stream);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or(-1);
  }

  http::ResponseHead response(int status = 200) {
    http::ResponseHead head;
    head.status = status;
    head.headers.add("content-type", "text/plain");
    return head;
  }

  RecordingServer server_cb_;
  RecordingClient client_cb_;
  std::unique_ptr<ServerCodec> server_;
  std::unique_ptr<ClientCodec> client_;
};

TEST_F(RoundTripTest, GetWithoutBody) {
  http::RequestHead head = request();
  head.headers.add("connection", "keep-alive");  // dropped: HTTP/2 forbids it
  head.headers.add("host", "ignored.local");     // :authority carries the host
  int32_t id = open(head, true);
  pump(*client_, *server_);

  ASSERT_TRUE(server_cb_.streams[id].has_head);
  const http::RequestHead& got = server_cb_.streams[id].request;
  EXPECT_EQ(got.method, "GET");
  EXPECT_EQ(got.path, "/hello");
  EXPECT_EQ(got.authority, "backend.local");
  EXPECT_EQ(got.scheme, "https");
  EXPECT_EQ(got.protocol, http::Protocol::kHttp2);
  EXPECT_TRUE(server_cb_.streams[id].head_end_stream);
  ASSERT_EQ(got.headers.size(), 1u);
  EXPECT_EQ(*got.headers.get("user-agent"), "skiff-test");

  Buffer body;
  body.add("hi there");
  server_->encodeHead(id, response(), false);
  server_->encodeData(id, body, true);
  pump(*client_, *server_);
  const testing::StreamRecord& r = client_cb_.streams[id];
  ASSERT_TRUE(r.has_head);
  EXPECT_EQ(r.response.status, 200);
  EXPECT_EQ(*r.response.headers.get("content-type"), "text/plain");
  EXPECT_FALSE(r.head_end_stream);
  EXPECT_EQ(r.body, "hi there");
  EXPECT_TRUE(r.data_end_stream);
  EXPECT_FALSE(r.reset);
  EXPECT_FALSE(server_cb_.streams[id].reset);
  EXPECT_EQ(server_->activeStreams(), 0u);
  EXPECT_EQ(client_->activeStreams(), 0u);
}

TEST_F(RoundTripTest, InterimResponseIsSkipped) {
  int32_t id = open(request(), true);
  pump(*client_, *server_);
  server_->encodeHead(id, response(103), false);
  server_->encodeHead(id, response(204), true);
  pump(*client_, *server_);
  EXPECT_EQ(client_cb_.streams[id].response.status, 204);
  EXPECT_TRUE(client_cb_.streams[id].head_end_stream);
}

TEST_F(RoundTripTest, TrailersBothWays) {
  http::RequestHead head = request("POST", "/pkg.Service/Method");
  head.headers.add("content-type", "application/grpc");
  head.headers.add("te", "trailers");  // the one te value HTTP/2 allows
  int32_t id = open(head, false);
  Buffer body;
  body.add(std::string(5, '\0'));
  client_->encodeData(id, body, false);
  http::HeaderMap request_trailers;
  request_trailers.add("x-checksum", "abc");
  client_->encodeTrailers(id, request_trailers);
  pump(*client_, *server_);

  testing::StreamRecord& s = server_cb_.streams[id];
  ASSERT_TRUE(s.has_head);
  EXPECT_EQ(*s.request.headers.get("te"), "trailers");
  EXPECT_EQ(s.body, std::string(5, '\0'));
  EXPECT_FALSE(s.data_end_stream);  // the trailers end the request
  ASSERT_TRUE(s.has_trailers);
  EXPECT_EQ(*s.trailers.get("x-checksum"), "abc");

  http::ResponseHead resp = response();
  resp.headers.set("content-type", "application/grpc");
  server_->encodeHead(id, resp, false);
  Buffer reply;
  reply.add("reply");
  server_->encodeData(id, reply, false);
  http::HeaderMap trailers;
  trailers.add("grpc-status", "0");
  trailers.add("grpc-message", "ok");
  server_->encodeTrailers(id, trailers);
  std::string wire = pump(*client_, *server_);

  testing::StreamRecord& c = client_cb_.streams[id];
  EXPECT_EQ(c.body, "reply");
  ASSERT_TRUE(c.has_trailers);
  EXPECT_EQ(*c.trailers.get("grpc-status"), "0");
  EXPECT_EQ(*c.trailers.get("grpc-message"), "ok");
  EXPECT_FALSE(c.reset);
  // HEADERS, DATA (no END_STREAM), HEADERS (END_STREAM).
  auto headers = framesOfType(wire, testing::kHeaders);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_FALSE(headers[0].flags & testing::kEndStream);
  EXPECT_TRUE(headers[1].flags & testing::kEndStream);
  for (auto& f : framesOfType(wire, testing::kData)) EXPECT_FALSE(f.flags & testing::kEndStream);
}

TEST_F(RoundTripTest, TrailersOnlyResponseIsOneHeadersFrame) {
  int32_t id = open(request("POST", "/pkg.Service/Method"), true);
  pump(*client_, *server_);
  http::ResponseHead resp = response();
  resp.headers.set("content-type", "application/grpc");
  resp.headers.add("grpc-status", "5");
  resp.headers.add("grpc-message", "not found");
  server_->encodeHead(id, resp, true);
  std::string wire = pump(*client_, *server_);

  auto frames = testing::parseFrames(wire);
  int headers_frames = 0;
  for (auto& f : frames) {
    if (f.stream_id != static_cast<uint32_t>(id)) continue;
    ASSERT_EQ(f.type, testing::kHeaders);
    EXPECT_EQ(f.flags & (testing::kEndStream | testing::kEndHeaders),
              testing::kEndStream | testing::kEndHeaders);
    headers_frames++;
  }
  EXPECT_EQ(headers_frames, 1);
  testing::StreamRecord& c = client_cb_.streams[id];
  EXPECT_TRUE(c.head_end_stream);
  EXPECT_EQ(*c.response.headers.get("grpc-status"), "5");
  EXPECT_TRUE(c.body.empty());
}

TEST_F(RoundTripTest, CookiesAreJoined) {
  http::RequestHead head = request();
  head.headers.add("cookie", "a=1");
  head.headers.add("accept", "*/*");
  head.headers.add("cookie", "b=2");
  int32_t id = open(head, true);
  pump(*client_, *server_);
  const http::HeaderMap& got = server_cb_.streams[id].request.headers;
  EXPECT_EQ(got.count("cookie"), 1u);
  EXPECT_EQ(*got.get("cookie"), "a=1; b=2");
}

TEST_F(RoundTripTest, LargeRequestBodyFollowsConsumption) {
  Http2Settings server_settings;
  server_settings.initial_stream_window_size = 64 * 1024;
  server_settings.initial_connection_window_size = 128 * 1024;
  server_cb_.auto_consume = false;
  start(server_settings, Http2Settings());

  const size_t total = 1024 * 1024;
  int32_t id = open(request("POST", "/upload"), false);
  Buffer body;
  body.add(std::string(total, 'x'));
  client_->encodeData(id, body, true);
  pump(*client_, *server_);

  // Nothing consumed: exactly one stream window has arrived, the rest waits at the client.
  EXPECT_EQ(server_cb_.streams[id].body.size(), 64u * 1024);
  EXPECT_EQ(client_->bufferedBytes(id), total - 64 * 1024);
  pump(*client_, *server_);
  EXPECT_EQ(server_cb_.streams[id].body.size(), 64u * 1024);

  // Consuming reopens the window, step by step, until the whole body is through.
  for (int i = 0; i < 100 && !server_cb_.streams[id].data_end_stream; ++i) {
    size_t pending = server_cb_.unconsumed[id];
    server_cb_.unconsumed[id] = 0;
    server_->consumed(id, pending);
    pump(*client_, *server_);
  }
  EXPECT_EQ(server_cb_.streams[id].body.size(), total);
  EXPECT_TRUE(server_cb_.streams[id].data_end_stream);
  EXPECT_EQ(client_->bufferedBytes(id), 0u);
}

TEST_F(RoundTripTest, ResponseBackpressureSignalsWritable) {
  Http2Settings server_settings;
  server_settings.stream_buffer_limit = 100 * 1024;
  Http2Settings client_settings;
  client_settings.initial_stream_window_size = 32 * 1024;
  client_cb_.auto_consume = false;
  start(server_settings, client_settings);

  int32_t id = open(request(), true);
  pump(*client_, *server_);
  server_->encodeHead(id, response(), false);
  Buffer body;
  body.add(std::string(300 * 1024, 'y'));
  server_->encodeData(id, body, false);
  EXPECT_EQ(server_->bufferedBytes(id), 300u * 1024);
  pump(*client_, *server_);
  EXPECT_EQ(client_cb_.streams[id].body.size(), 32u * 1024);
  EXPECT_EQ(server_cb_.streams[id].writable, 0);

  for (int i = 0; i < 100 && server_->bufferedBytes(id) > 0; ++i) {
    size_t pending = client_cb_.unconsumed[id];
    client_cb_.unconsumed[id] = 0;
    client_->consumed(id, pending);
    pump(*client_, *server_);
  }
  EXPECT_EQ(server_->bufferedBytes(id), 0u);
  EXPECT_EQ(server_cb_.streams[id].writable, 1);  // once, on crossing half the limit
  Buffer empty;
  server_->encodeData(id, empty, true);
  pump(*client_, *server_);
  EXPECT_TRUE(client_cb_.streams[id].data_end_stream);
  EXPECT_EQ(client_cb_.streams[id].body.size(), 300u * 1024);
}

TEST_F(RoundTripTest, ClientResetReachesServer) {
  int32_t id = open(request("POST", "/"), false);
  pump(*client_, *server_);
  ASSERT_TRUE(server_cb_.streams[id].has_head);
  client_->resetStream(id, kCancel);
  pump(*client_, *server_);
  EXPECT_TRUE(server_cb_.streams[id].reset);
  EXPECT_EQ(server_cb_.streams[id].reset_code, kCancel);
  EXPECT_FALSE(client_cb_.streams[id].reset);  // own resets are not reported
  EXPECT_EQ(server_->activeStreams(), 0u);
  EXPECT_EQ(client_->activeStreams(), 0u);
  // Writes to a dead stream are dropped quietly.
  server_->encodeHead(id, response(), true);
  pump(*client_, *server_);
}

TEST_F(RoundTripTest, ServerResetReachesClient) {
  int32_t id = open(request(), true);
  pump(*client_, *server_);
  server_->encodeHead(id, response(), false);
  server_->resetStream(id, kInternalError);
  pump(*client_, *server_);
  EXPECT_TRUE(client_cb_.streams[id].reset);
  EXPECT_EQ(client_cb_.streams[id].reset_code, kInternalError);
  EXPECT_FALSE(server_cb_.streams[id].reset);
}

TEST_F(RoundTripTest, UnconsumedBytesOfResetStreamReturnToConnection) {
  Http2Settings server_settings;
  server_settings.initial_stream_window_size = 64 * 1024;
  server_settings.initial_connection_window_size = 64 * 1024;
  server_cb_.auto_consume = false;
  start(server_settings, Http2Settings());
  int32_t first = open(request("POST", "/"), false);
  Buffer body;
  body.add(std::string(64 * 1024, 'a'));
  client_->encodeData(first, body, false);
  pump(*client_, *server_);
  EXPECT_EQ(server_cb_.streams[first].body.size(), 64u * 1024);
  // The connection window is now closed. Resetting the stream must give it back.
  server_->resetStream(first, kCancel);
  pump(*client_, *server_);
  int32_t second = open(request("POST", "/"), false);
  Buffer more;
  more.add(std::string(1000, 'b'));
  client_->encodeData(second, more, true);
  pump(*client_, *server_);
  EXPECT_EQ(server_cb_.streams[second].body.size(), 1000u);
}

TEST_F(RoundTripTest, MaxConcurrentStreamsReachesClient) {
  Http2Settings server_settings;
  server_settings.max_concurrent_streams = 3;
  start(server_settings, Http2Settings());
  EXPECT_EQ(client_->remoteMaxConcurrentStreams(), 3u);
  for (int i = 0; i < 3; ++i) open(request(), true);
  EXPECT_EQ(client_->activeStreams(), 3u);
  absl::StatusOr<int32_t> fourth = client_->newStream(request(), true);
  EXPECT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted);
  pump(*client_, *server_);
  server_->encodeHead(1, response(), true);
  pump(*client_, *server_);
  EXPECT_EQ(client_->activeStreams(), 2u);
  EXPECT_TRUE(client_->newStream(request(), true).ok());
}

TEST_F(RoundTripTest, GoAwayRefusesStreamsAboveLastStreamId) {
  int32_t first = open(request(), true);
  pump(*client_, *server_);
  server_->goAway(kNoError, /*graceful=*/false);
  // The client opens another stream before it sees the GOAWAY.
  int32_t second = open(request(), true);
  pump(*client_, *server_);

  ASSERT_EQ(client_cb_.goaways.size(), 1u);
  EXPECT_EQ(client_cb_.goaways[0].first, first);
  EXPECT_EQ(client_cb_.goaways[0].second, kNoError);
  EXPECT_TRUE(client_cb_.streams[second].reset);
  EXPECT_EQ(client_cb_.streams[second].reset_code, kRefusedStream);
  EXPECT_FALSE(server_cb_.streams[second].has_head);
  EXPECT_TRUE(client_->goAwayReceived());
  EXPECT_EQ(client_->newStream(request(), true).status().code(), absl::StatusCode::kUnavailable);

  // The stream below the limit finishes normally, then both sides are done.
  EXPECT_FALSE(client_cb_.streams[first].reset);
  server_->encodeHead(first, response(), true);
  pump(*client_, *server_);
  EXPECT_EQ(client_cb_.streams[first].response.status, 200);
  EXPECT_TRUE(server_->shouldClose());
  EXPECT_TRUE(client_->shouldClose());
}

TEST_F(RoundTripTest, GoAwayRefusesRequestsNotSentYet) {
  // Found by http2_client_fuzz: a request the server's MAX_CONCURRENT_STREAMS holds back in the
  // codec has no nghttp2 stream yet, so the GOAWAY closed nothing for it and it waited forever.
  Http2Settings server_settings;
  server_settings.max_concurrent_streams = 1;
  server_ = std::make_unique<ServerCodec>(server_settings, server_cb_);
  client_ = std::make_unique<ClientCodec>(Http2Settings(), client_cb_);
  server_cb_.codec = server_.get();
  client_cb_.codec = client_.get();
  // Both requests are made before the server's SETTINGS arrive; then only one may be open.
  int32_t first = open(request(), true);
  int32_t held = open(request(), true);
  Buffer settings;
  server_->drainOutput(settings);
  ASSERT_TRUE(client_->dispatch(settings).ok());
  pump(*client_, *server_);
  EXPECT_TRUE(server_cb_.streams[first].has_head);
  EXPECT_FALSE(server_cb_.streams[held].has_head);

  server_->goAway(kNoError, /*graceful=*/false);
  pump(*client_, *server_);
  EXPECT_TRUE(client_cb_.streams[held].reset);
  EXPECT_EQ(client_cb_.streams[held].reset_code, kRefusedStream);
  EXPECT_FALSE(client_cb_.streams[first].reset);
  server_->encodeHead(first, response(), true);
  pump(*client_, *server_);
  EXPECT_EQ(client_cb_.streams[first].response.status, 200);
  EXPECT_EQ(client_->activeStreams(), 0u);
}

TEST_F(RoundTripTest, GracefulShutdownSendsNoticeThenRealGoAway) {
  int32_t first = open(request(), true);
  pump(*client_, *server_);
  server_->goAway(kNoError, /*graceful=*/true);
  // Before the notice has reached the client, one more stream goes out: it arrives within the
  // round trip, so it must still be served.
  int32_t second = open(request(), true);
  std::string wire = pump(*client_, *server_);

  auto goaways = framesOfType(wire, testing::kGoAway);
  ASSERT_EQ(goaways.size(), 2u);
  EXPECT_EQ(goaways[0].lastStreamId(), 0x7fffffffu);
  EXPECT_EQ(goaways[1].lastStreamId(), static_cast<uint32_t>(second));
  ASSERT_EQ(client_cb_.goaways.size(), 2u);
  EXPECT_EQ(client_cb_.goaways[0].first, 0x7fffffff);
  EXPECT_EQ(client_cb_.goaways[1].first, second);
  EXPECT_TRUE(server_cb_.streams[second].has_head);
  EXPECT_FALSE(client_cb_.streams[second].reset);
  EXPECT_FALSE(server_->shouldClose());

  server_->encodeHead(first, response(), true);
  server_->encodeHead(second, response(), true);
  pump(*client_, *server_);
  EXPECT_EQ(client_cb_.streams[first].response.status, 200);
  EXPECT_EQ(client_cb_.streams[second].response.status, 200);
  EXPECT_TRUE(server_->shouldClose());
}

}  // namespace
}  // namespace skiff::http2
