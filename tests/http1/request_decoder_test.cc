#include <string>
#include <vector>

#include "codec_test_util.h"
#include "gtest/gtest.h"
#include "http1/codec.h"

namespace skiff::http1 {
namespace {

using testing::feedRequest;
using testing::RequestRecorder;
using testing::summarize;

struct Case {
  const char* name;
  std::string wire;
  int status;  // 0: accepted
};

template <size_t N>
std::string bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);  // keeps embedded NULs
}

std::vector<Case> requestCases() {
  return {
      // Accepted.
      {"simple_get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"query", "GET /p?q=1&r HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"http10_no_host", "GET / HTTP/1.0\r\n\r\n", 0},
      {"http12_as_11", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0},
      {"absolute_form", "GET http://h:81/x?y HTTP/1.1\r\nHost: other\r\n\r\n", 0},
      {"absolute_form_no_path", "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", 0},
      {"options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"content_length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 0},
      {"content_length_list_same",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 0},
      {"content_length_dup_same",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 0},
      {"chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n0\r\n\r\n", 0},
      {"chunked_ext",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
       "5 ; a=b;c=\"d e\";f\r\nhello\r\n0\r\n\r\n", 0},
      {"chunked_leading_zeros",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0005\r\nhello\r\n000\r\n\r\n", 0},
      {"leading_crlf", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"empty_value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", 0},
      {"tab_and_obs_text", "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\xe9\r\n\r\n", 0},
      {"ipv6_host", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0},
      {"empty_host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0},

      // Request line.
      {"bare_lf_request_line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
      {"bare_lf_header", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
      {"bare_lf_end", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
      {"bare_cr", "GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", 400},
      {"double_space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"trailing_space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
      {"no_version", "GET /\r\nHost: a\r\n\r\n", 400},
      {"lowercase_version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
      {"garbage_version", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400},
      {"version_letters", "GET / HTTP/a.b\r\nHost: a\r\n\r\n", 400},
      {"http2_version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"http09_version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
      {"bad_method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"connect", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 501},
      {"asterisk_not_options", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"relative_target", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"ctl_in_target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute_userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"absolute_ftp", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"absolute_no_authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400},

      // Field lines.
      {"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"ws_before_first_header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
      {"obs_fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400},
      {"obs_fold_tab", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400},
      {"nul_in_value", bytes("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400},
      {"cr_in_value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
      {"del_in_value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400},
      {"empty_name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400},
      {"bad_name", "GET / HTTP/1.1\r\nHost: a\r\nA(b: c\r\n\r\n", 400},
      {"no_colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
      {"missing_host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
      {"host_with_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
      {"host_userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
      {"host_bad_port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400},

      // Framing, the request smuggling classics.
      {"cl_and_te",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n", 400},
      {"te_and_cl",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
       "0\r\n\r\n", 400},
      {"cl_differing",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
      {"cl_list_differing", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400},
      {"cl_negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
      {"cl_plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400},
      {"cl_hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", 400},
      {"cl_inner_space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400},
      {"cl_empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
      {"cl_trailing_comma", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400},
      {"cl_overflow",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"te_chunked_identity",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
      {"te_chunked_then_identity_lines",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
       "Transfer-Encoding: identity\r\n\r\n", 400},
      {"te_gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"te_gzip_chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"te_chunked_twice",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
      {"te_empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400},
      {"te_bad_token", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
       400},
      {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},

      // Chunk sizes.
      {"chunk_0x", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x10\r\n",
       400},
      {"chunk_negative",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400},
      {"chunk_leading_space",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n", 400},
      {"chunk_trailing_space",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n", 400},
      {"chunk_empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
       400},
      {"chunk_not_hex",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"chunk_2_pow_64",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
       400},
      {"chunk_2_pow_63",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n",
       400},
      {"chunk_bare_lf",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n", 400},
      {"chunk_bad_ext",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n", 400},
      {"chunk_ext_unterminated_quote",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n",
       400},
      {"chunk_data_no_crlf",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
       400},
      {"chunk_data_too_long",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n", 400},
      {"chunk_size_line_too_long",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=" +
           std::string(5000, 'x') + "\r\nhello\r\n0\r\n\r\n",
       400},
      {"trailer_obs_fold",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n",
       400},
      {"trailer_bad_name",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX y: a\r\n\r\n",
       400},
  };
}

class RequestTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(RequestTableTest, WholeAndByteAtATimeAgree) {
  const Case& c = GetParam();
  CodecLimits limits;
  for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
    SCOPED_TRACE(step);
    RequestRecorder recorder;
    RequestDecoder decoder(limits, recorder);
    Buffer input;
    auto error = feedRequest(decoder, c.wire, step, input);
    if (c.status == 0) {
      ASSERT_FALSE(error.has_value()) << error->detail;
      EXPECT_TRUE(decoder.messageComplete());
      EXPECT_EQ(recorder.heads.size(), 1u);
      EXPECT_TRUE(input.empty()) << input.toString();
      EXPECT_EQ(decoder.bytesConsumed(), c.wire.size());
    } else {
      ASSERT_TRUE(error.has_value()) << "accepted";
      EXPECT_EQ(error->status, c.status) << error->detail;
      EXPECT_FALSE(error->detail.empty());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, RequestTableTest, ::testing::ValuesIn(requestCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

struct Decoded {
  std::optional<CodecError> error;
  RequestRecorder recorder;
  std::string rest;
};

std::unique_ptr<Decoded> decode(absl::string_view wire, CodecLimits limits = {}, size_t step = 0) {
  auto out = std::make_unique<Decoded>();
  RequestDecoder decoder(limits, out->recorder);
  Buffer input;
  out->error = feedRequest(decoder, wire, step, input);
  out->rest = input.toString();
  return out;
}

TEST(RequestDecoderTest, HeadFields) {
  auto d = decode(
      "GET /a/b?x=1 HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Mixed-Case:   padded value \t\r\n"
      "Connection: keep-alive\r\nAccept: */*\r\n\r\n");
  ASSERT_FALSE(d->error);
  ASSERT_EQ(d->recorder.heads.size(), 1u);
  const http::RequestHead& head = d->recorder.heads[0];
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.path, "/a/b?x=1");
  EXPECT_EQ(head.authority, "Example.COM:8080");
  EXPECT_EQ(head.scheme, "http");
  EXPECT_EQ(head.protocol, http::Protocol::kHttp11);
  EXPECT_FALSE(head.headers.has("host"));  // Host becomes the authority
  ASSERT_EQ(head.headers.size(), 3u);
  EXPECT_EQ(head.headers.entries()[0].first, "x-mixed-case");
  EXPECT_EQ(head.headers.entries()[0].second, "padded value");
  EXPECT_EQ(*head.headers.get("connection"), "keep-alive");
  EXPECT_EQ(d->recorder.events, (std::vector<std::string>{"head+end"}));
}

TEST(RequestDecoderTest, AbsoluteFormTakesAuthorityAndScheme) {
  auto d = decode("GET https://upstream:8443?q HTTP/1.1\r\nHost: ignored\r\n\r\n");
  ASSERT_FALSE(d->error);
  const http::RequestHead& head = d->recorder.heads[0];
  EXPECT_EQ(head.scheme, "https");
  EXPECT_EQ(head.authority, "upstream:8443");
  EXPECT_EQ(head.path, "/?q");
}

TEST(RequestDecoderTest, Http10WithoutHostHasEmptyAuthority) {
  auto d = decode("GET /x HTTP/1.0\r\n\r\n");
  ASSERT_FALSE(d->error);
  EXPECT_EQ(d->recorder.heads[0].protocol, http::Protocol::kHttp10);
  EXPECT_EQ(d->recorder.heads[0].authority, "");
}

TEST(RequestDecoderTest, OtherMinorVersionIsHttp11) {
  auto d = decode("GET / HTTP/1.7\r\nHost: a\r\n\r\n");
  ASSERT_FALSE(d->error);
  EXPECT_EQ(d->recorder.heads[0].protocol, http::Protocol::kHttp11);
}

TEST(RequestDecoderTest, FramingHeadersStayInTheMap) {
  auto d = decode(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
      "\r\n0\r\n\r\n");
  ASSERT_FALSE(d->error);
  EXPECT_EQ(*d->recorder.heads[0].headers.get("transfer-encoding"), "chunked");
  EXPECT_TRUE(d->recorder.heads[0].headers.has("expect"));
  auto c = decode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(*c->recorder.heads[0].headers.get("content-length"), "2");
}

TEST(RequestDecoderTest, IdenticalContentLengthsCollapse) {
  auto d = decode(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nX: y\r\nContent-Length: 003\r\n"
      "\r\nabc");
  ASSERT_FALSE(d->error);
  const http::HeaderMap& headers = d->recorder.heads[0].headers;
  EXPECT_EQ(headers.count("content-length"), 1u);
  EXPECT_EQ(*headers.get("content-length"), "3");
  EXPECT_EQ(d->recorder.body, "abc");
}

TEST(RequestDecoderTest, NoBodyWithoutFraming) {
  auto d = decode("POST / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n");
  ASSERT_FALSE(d->error);
  EXPECT_EQ(d->recorder.events, (std::vector<std::string>{"head+end"}));
  EXPECT_EQ(d->rest, "GET / HTTP/1.1\r\n");
}

TEST(RequestDecoderTest, ContentLengthZeroEndsAtHead) {
  auto d = decode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  ASSERT_FALSE(d->error);
  EXPECT_EQ(d->recorder.events, (std::vector<std::string>{"head+end"}));
}

TEST(RequestDecoderTest, ContentLengthBodyStreams) {
  CodecLimits limits;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  input.add("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhel");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"head", "data(hel)"}));
  EXPECT_FALSE(decoder.messageComplete());
  input.add("lo");
  ASSERT_FALSE(decoder.dispatch(input));
  input.add("worldEXTRA");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(recorder.events,
            (std::vector<std::string>{"head", "data(hel)", "data(lo)", "end(world)"}));
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_EQ(input.toString(), "EXTRA");
}

TEST(RequestDecoderTest, ChunkedBodyStreamsAndEndsOnce) {
  CodecLimits limits;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  input.add("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\nde");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(recorder.events, (std::vector<std::string>{"head", "data(abcde)"}));
  input.add("fg\r\n0\r\n");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_FALSE(decoder.messageComplete());
  input.add("\r\n");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_EQ(recorder.body, "abcdefg");
  EXPECT_EQ(recorder.end_count, 1);
  EXPECT_EQ(recorder.events.back(), "end()");
}

TEST(RequestDecoderTest, LargeChunkedBodyIsMovedNotBuffered) {
  CodecLimits limits;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  std::string payload(100000, 'z');
  input.add("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n186a0\r\n");
  ASSERT_FALSE(decoder.dispatch(input));
  for (size_t i = 0; i < payload.size(); i += 30000) {
    input.add(payload.substr(i, 30000));
    ASSERT_FALSE(decoder.dispatch(input));
    EXPECT_TRUE(input.empty());
  }
  input.add("\r\n0\r\n\r\n");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_EQ(recorder.body, payload);
  EXPECT_EQ(recorder.data_calls, 5);  // four pieces, then the empty end
}

TEST(RequestDecoderTest, TrailersEndTheRequest) {
  auto d = decode(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nhi\r\n0\r\nGrpc-Status: 0\r\nX-Sum:  abc \r\n\r\n");
  ASSERT_FALSE(d->error);
  EXPECT_EQ(d->recorder.events,
            (std::vector<std::string>{"head", "data(hi)", "trailers"}));
  ASSERT_EQ(d->recorder.trailers.size(), 1u);
  EXPECT_EQ(*d->recorder.trailers[0].get("grpc-status"), "0");
  EXPECT_EQ(*d->recorder.trailers[0].get("x-sum"), "abc");
  EXPECT_EQ(d->recorder.end_count, 0);
}

TEST(RequestDecoderTest, TrailerLimits) {
  CodecLimits limits;
  limits.max_header_count = 3;
  std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  auto ok = decode(head + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits);
  EXPECT_FALSE(ok->error);
  auto too_many = decode(head + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits);
  ASSERT_TRUE(too_many->error);
  EXPECT_EQ(too_many->error->status, 431);

  limits = CodecLimits();
  limits.max_header_bytes = 100;
  auto too_big = decode(head + "A: " + std::string(200, 'x') + "\r\n\r\n", limits);
  ASSERT_TRUE(too_big->error);
  EXPECT_EQ(too_big->error->status, 431);
}

TEST(RequestDecoderTest, HeaderBytesLimit) {
  std::string wire = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(50, 'v') + "\r\n\r\n";
  CodecLimits limits;
  limits.max_header_bytes = wire.size();
  for (size_t step : {size_t{0}, size_t{1}}) {
    EXPECT_FALSE(decode(wire, limits, step)->error);
  }
  limits.max_header_bytes = wire.size() - 1;
  for (size_t step : {size_t{0}, size_t{1}}) {
    auto d = decode(wire, limits, step);
    ASSERT_TRUE(d->error);
    EXPECT_EQ(d->error->status, 431);
  }
}

TEST(RequestDecoderTest, EndlessLineIsRefusedWithoutWaitingForLf) {
  CodecLimits limits;
  limits.max_header_bytes = 1024;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  input.add("GET / HTTP/1.1\r\nHost: a\r\nX: ");
  ASSERT_FALSE(decoder.dispatch(input));
  input.add(std::string(2000, 'a'));
  auto error = decoder.dispatch(input);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 431);
}

TEST(RequestDecoderTest, HeaderCountLimit) {
  CodecLimits limits;
  limits.max_header_count = 3;
  EXPECT_FALSE(decode("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits)->error);
  auto d = decode("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits);
  ASSERT_TRUE(d->error);
  EXPECT_EQ(d->error->status, 431);
}

TEST(RequestDecoderTest, BodyLimitContentLength) {
  CodecLimits limits;
  limits.max_body_bytes = 10;
  EXPECT_FALSE(
      decode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", limits)->error);
  auto d = decode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits);
  ASSERT_TRUE(d->error);
  EXPECT_EQ(d->error->status, 413);
  EXPECT_TRUE(d->recorder.heads.empty());  // refused at the head, before any callback
}

TEST(RequestDecoderTest, BodyLimitChunkedWhileStreaming) {
  CodecLimits limits;
  limits.max_body_bytes = 10;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  input.add("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(recorder.body, "abcdef");
  input.add("4\r\nghij\r\n");
  ASSERT_FALSE(decoder.dispatch(input));  // exactly at the limit
  input.add("1\r\nk\r\n0\r\n\r\n");
  auto error = decoder.dispatch(input);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->status, 413);
  EXPECT_EQ(recorder.body, "abcdefghij");
}

TEST(RequestDecoderTest, PipelinedRequestsStopAtBoundaries) {
  CodecLimits limits;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  std::string first = "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  std::string second =
      "POST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
  std::string third = "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
  input.add(first + second + third);

  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_EQ(decoder.bytesConsumed(), first.size());
  EXPECT_EQ(input.toString(), second + third);
  // Nothing more is consumed until the caller is ready.
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(input.length(), second.size() + third.size());

  decoder.startNextMessage();
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_EQ(decoder.bytesConsumed(), second.size());
  EXPECT_EQ(input.toString(), third);

  decoder.startNextMessage();
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.messageComplete());
  EXPECT_TRUE(input.empty());
  ASSERT_EQ(recorder.heads.size(), 3u);
  EXPECT_EQ(recorder.heads[2].path, "/3");
  EXPECT_EQ(recorder.events,
            (std::vector<std::string>{"head", "end(abc)", "head", "end(x)", "head+end"}));
}

TEST(RequestDecoderTest, StartNextMessageMidMessageIsIgnored) {
  CodecLimits limits;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  std::string body = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
  input.add("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n\r\n");
  ASSERT_FALSE(decoder.dispatch(input));
  decoder.startNextMessage();
  // The body must not be parsed as a request.
  input.add(body);
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(recorder.heads.size(), 1u);
  EXPECT_TRUE(decoder.messageComplete());
}

TEST(RequestDecoderTest, UpgradeStopsAndLeavesBytes) {
  auto d = decode(
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
      "\r\n\x81\x05hello");
  ASSERT_FALSE(d->error);
  EXPECT_EQ(d->recorder.events, (std::vector<std::string>{"head+end"}));
  EXPECT_EQ(d->rest, "\x81\x05hello");
  EXPECT_EQ(*d->recorder.heads[0].headers.get("upgrade"), "websocket");

  CodecLimits limits;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  input.add("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nRAW");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(decoder.upgradeRequested());
  EXPECT_TRUE(decoder.messageComplete());
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(input.toString(), "RAW");
}

TEST(RequestDecoderTest, UpgradeNeedsBothHeadersAndNoBody) {
  struct {
    const char* wire;
    bool upgrade;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: UPGRADE\r\nUpgrade: ws\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: ws\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgraded\r\nUpgrade: ws\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", false},
      {"POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: ws\r\n"
       "Content-Length: 2\r\n\r\nhi", false},
      {"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: ws\r\n\r\n", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.wire);
    CodecLimits limits;
    RequestRecorder recorder;
    RequestDecoder decoder(limits, recorder);
    Buffer input;
    input.add(c.wire);
    ASSERT_FALSE(decoder.dispatch(input));
    EXPECT_TRUE(decoder.messageComplete());
    EXPECT_EQ(decoder.upgradeRequested(), c.upgrade);
  }
}

TEST(RequestDecoderTest, ErrorIsSticky) {
  CodecLimits limits;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  input.add("GET / HTTP/1.1\r\nHost : a\r\n\r\n");
  auto first = decoder.dispatch(input);
  ASSERT_TRUE(first);
  decoder.startNextMessage();
  Buffer fresh;
  fresh.add("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  auto second = decoder.dispatch(fresh);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, first->status);
  EXPECT_TRUE(recorder.heads.empty());
}

TEST(RequestDecoderTest, ByteAtATimeMatchesWholeForBodies) {
  const std::string wires[] = {
      "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
      "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;x=y\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n",
      "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
  };
  for (const auto& wire : wires) {
    auto whole = decode(wire);
    ASSERT_FALSE(whole->error);
    std::string expected = summarize(whole->recorder.events, whole->recorder.body);
    for (size_t step = 1; step < 6; ++step) {
      auto pieces = decode(wire, {}, step);
      ASSERT_FALSE(pieces->error);
      EXPECT_EQ(summarize(pieces->recorder.events, pieces->recorder.body), expected);
      EXPECT_EQ(pieces->recorder.end_count + pieces->recorder.trailers.size(), 1u);
    }
  }
}

TEST(RequestDecoderTest, PartialHeadDoesNotCallBack) {
  CodecLimits limits;
  RequestRecorder recorder;
  RequestDecoder decoder(limits, recorder);
  Buffer input;
  input.add("GET / HTTP/1.1\r\nHost: a\r\nX: y\r");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(recorder.events.empty());
  EXPECT_FALSE(decoder.messageComplete());
  input.add("\n\r");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_TRUE(recorder.events.empty());
  input.add("\n");
  ASSERT_FALSE(decoder.dispatch(input));
  EXPECT_EQ(recorder.events.size(), 1u);
}

}  // namespace
}  // namespace skiff::http1

namespace skiff::http1 {
namespace {

// Lines that straddle slices of the input take the slower search-and-linearize path.
TEST(RequestDecoderTest, LinesSpanningSlices) {
  std::string long_value(1500, 'v');
  std::string wire = "POST /s HTTP/1.1\r\nHost: a\r\nX-Long: " + long_value +
                     "\r\nTransfer-Encoding: chunked\r\n\r\n" + "258\r\n" +
                     std::string(600, 'b') + "\r\n0\r\nT: " + std::string(700, 't') + "\r\n\r\n";
  for (size_t piece : {size_t{512}, size_t{600}, size_t{1000}}) {
    SCOPED_TRACE(piece);
    RequestRecorder recorder;
    RequestDecoder decoder({}, recorder);
    Buffer input;
    for (size_t offset = 0; offset < wire.size(); offset += piece) {
      Buffer slice;
      slice.add(absl::string_view(wire).substr(offset, piece));
      input.move(slice);  // whole slices of 512 bytes or more are moved, not copied
      ASSERT_FALSE(decoder.dispatch(input));
    }
    ASSERT_TRUE(decoder.messageComplete());
    EXPECT_EQ(*recorder.heads[0].headers.get("x-long"), long_value);
    EXPECT_EQ(recorder.body, std::string(600, 'b'));
    EXPECT_EQ(*recorder.trailers[0].get("t"), std::string(700, 't'));
  }
}

}  // namespace
}  // namespace skiff::http1
