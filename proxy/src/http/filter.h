#pragma once

// The HTTP stream filter contract. Every request feature (proxy headers, client identity,
// authorization, and the router, always last) is a filter in a per-listener chain; the chain
// for each direction is listed in server/http_filter_chains.cc.
//
// - A request goes through the decoder filters in chain order: decodeHeaders, then
//   decodeData for each body piece, then decodeTrailers. Its response goes through the encoder
//   filters in reverse order (the first filter sees the response last), then to the client.
// - A hook returns kContinue (pass the event on) or kStop: the filter holds that event and
//   every later one in its direction until it calls continueDecoding() / continueEncoding()
//   (from a later callback, a timer for instance; never from inside its own hook). Held events
//   then go on to the next filter in their order. A holding filter does not see what arrives
//   while it holds; filters before it do, as usual. The chain keeps held body bytes, and past
//   the high watermark (1 MiB) pauses whoever sends them (the client for a request, the
//   upstream for a response) until they drain below half of it.
// - A filter may answer the request itself with sendLocalReply(): a short text response (a
//   trailers-only one for gRPC) with a response flag, passed through the encoder filters like
//   any response. Once the response has started, a local reply resets the stream instead.
//   After a local reply no decoder filter sees more of the request.
// - The last decoder filter produces the response (the router: encodeHeaders, encodeData and
//   encodeTrailers on its callbacks) and consumes the body (it moves the bytes out).
// - onDestroy(): the stream is over (answered, reset, or abandoned by the client). Cancel
//   timers and upstream work; make no further call on the callbacks.
//
// Filters run on one worker's thread and need no locks. They write what they learn into the
// stream's StreamInfo, which the access log and stats read when the stream ends.

#include "absl/strings/string_view.h"
#include "common/buffer.h"
#include "http/header_map.h"
#include "stream_info/stream_info.h"

namespace skiff::net {
class Connection;
}
namespace skiff::router {
class RouteEntry;
}
namespace skiff::server {
class WorkerContext;
}

namespace skiff::http {

enum class FilterStatus { kContinue, kStop };

// What every filter may ask of its stream.
class StreamFilterCallbacks {
 public:
  virtual ~StreamFilterCallbacks() = default;
  virtual StreamInfo& streamInfo() = 0;
  // The worker the stream runs on: its dispatcher (timers), random source and clusters.
  virtual server::WorkerContext& worker() = 0;
  // The client's connection: its addresses and verified TLS identity.
  virtual const net::Connection& connection() = 0;
  // The route the request matches, looked up once on first use, with the headers as earlier
  // filters left them; null when none matches (the router then answers 404).
  virtual const router::RouteEntry* route() = 0;
  // Answers the request (see above). `flag` goes into x-skiff-flags and the access log.
  virtual void sendLocalReply(int status, absl::string_view flag, absl::string_view detail) = 0;
};

class DecoderFilterCallbacks : public StreamFilterCallbacks {
 public:
  // Passes the events this filter holds on to the next filter.
  virtual void continueDecoding() = 0;
  // The response, from the filter that produces it. It enters the encoder chain at its start.
  virtual void encodeHeaders(ResponseHead&& head, bool end_stream) = 0;
  virtual void encodeData(Buffer& data, bool end_stream) = 0;
  virtual void encodeTrailers(HeaderMap&& trailers) = 0;
  // The request body cannot go on as fast as it comes (true), or can again: pauses or resumes
  // reading it from the client. Nested calls are not counted: the last one wins.
  virtual void readDisableDownstream(bool disable) = 0;
};

class EncoderFilterCallbacks : public StreamFilterCallbacks {
 public:
  // Passes the response events this filter holds on toward the client.
  virtual void continueEncoding() = 0;
};

// Common to both kinds: one filter object may be both (a StreamFilter), and ends once.
class StreamFilterBase {
 public:
  virtual ~StreamFilterBase() = default;
  virtual void onDestroy() {}
};

class StreamDecoderFilter : public virtual StreamFilterBase {
 public:
  // Called once, before any hook.
  virtual void setDecoderFilterCallbacks(DecoderFilterCallbacks& callbacks) = 0;
  virtual FilterStatus decodeHeaders(RequestHead& head, bool end_stream) = 0;
  virtual FilterStatus decodeData(Buffer& data, bool end_stream) { return FilterStatus::kContinue; }
  virtual FilterStatus decodeTrailers(HeaderMap& trailers) { return FilterStatus::kContinue; }
  // The client cannot take more response bytes (true), or can again: a filter that produces
  // the response (the router) pauses or resumes its source.
  virtual void onDownstreamWriteBlocked(bool blocked) {}
};

class StreamEncoderFilter : public virtual StreamFilterBase {
 public:
  virtual void setEncoderFilterCallbacks(EncoderFilterCallbacks& callbacks) = 0;
  virtual FilterStatus encodeHeaders(ResponseHead& head, bool end_stream) = 0;
  virtual FilterStatus encodeData(Buffer& data, bool end_stream) { return FilterStatus::kContinue; }
  virtual FilterStatus encodeTrailers(HeaderMap& trailers) { return FilterStatus::kContinue; }
};

class StreamFilter : public StreamDecoderFilter, public StreamEncoderFilter {};

}  // namespace skiff::http
