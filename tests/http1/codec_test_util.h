#pragma once

// Recording callbacks and feeding helpers shared by the HTTP/1 codec tests.

#include <optional>
#include <string>
#include <vector>

#include "common/buffer.h"
#include "http/header_map.h"
#include "http1/codec.h"

namespace skiff::http1::testing {

// Events in order, in a compact text form so tests can compare whole sequences:
// "head", "data(<bytes>)", "end(<bytes>)", "trailers".
struct RequestRecorder : RequestDecoderCallbacks {
  void onRequestHead(http::RequestHead&& head, bool end_stream) override {
    heads.push_back(std::move(head));
    events.push_back(end_stream ? "head+end" : "head");
  }
  void onRequestData(Buffer& data, bool end_stream) override {
    std::string bytes = data.toString();
    data.drain(data.length());
    body += bytes;
    ++data_calls;
    end_count += end_stream;
    events.push_back((end_stream ? "end(" : "data(") + bytes + ")");
  }
  void onRequestTrailers(http::HeaderMap&& map) override {
    trailers.push_back(std::move(map));
    events.push_back("trailers");
  }

  std::vector<http::RequestHead> heads;
  std::vector<http::HeaderMap> trailers;
  std::vector<std::string> events;
  std::string body;
  int data_calls = 0;
  int end_count = 0;
};

struct ResponseRecorder : ResponseDecoderCallbacks {
  void onResponseHead(http::ResponseHead&& head, bool end_stream) override {
    heads.push_back(std::move(head));
    events.push_back(end_stream ? "head+end" : "head");
  }
  void onResponseData(Buffer& data, bool end_stream) override {
    std::string bytes = data.toString();
    data.drain(data.length());
    body += bytes;
    end_count += end_stream;
    events.push_back((end_stream ? "end(" : "data(") + bytes + ")");
  }
  void onResponseTrailers(http::HeaderMap&& map) override {
    trailers.push_back(std::move(map));
    events.push_back("trailers");
  }

  std::vector<http::ResponseHead> heads;
  std::vector<http::HeaderMap> trailers;
  std::vector<std::string> events;
  std::string body;
  int end_count = 0;
};

// Data events merged, so a byte-at-a-time run compares equal to a whole-buffer run.
inline std::string summarize(const std::vector<std::string>& events, const std::string& body) {
  std::string out;
  for (const auto& e : events) {
    if (e.rfind("data(", 0) == 0) continue;
    if (e.rfind("end(", 0) == 0) {
      out += "end;";
      continue;
    }
    out += e + ";";
  }
  return out + "body=" + body;
}

// Feeds `wire` in pieces of `step` bytes (0: all at once), dispatching after each, like a
// connection would. Stops at the first error or once the message is complete.
inline std::optional<CodecError> feedRequest(RequestDecoder& decoder, absl::string_view wire,
                                             size_t step, Buffer& input) {
  if (step == 0) step = wire.size() == 0 ? 1 : wire.size();
  size_t offset = 0;
  do {
    size_t n = std::min(step, wire.size() - offset);
    input.add(wire.substr(offset, n));
    offset += n;
    if (auto error = decoder.dispatch(input)) return error;
    if (decoder.messageComplete()) break;
  } while (offset < wire.size());
  // The rest of the wire stays in `input`, as pipelined bytes would.
  if (offset < wire.size()) input.add(wire.substr(offset));
  return std::nullopt;
}

inline std::optional<CodecError> feedResponse(ResponseDecoder& decoder, absl::string_view wire,
                                              size_t step, Buffer& input) {
  if (step == 0) step = wire.size() == 0 ? 1 : wire.size();
  size_t offset = 0;
  do {
    size_t n = std::min(step, wire.size() - offset);
    input.add(wire.substr(offset, n));
    offset += n;
    if (auto error = decoder.dispatch(input)) return error;
    if (decoder.messageComplete()) break;
  } while (offset < wire.size());
  if (offset < wire.size()) input.add(wire.substr(offset));
  return std::nullopt;
}

}  // namespace skiff::http1::testing
