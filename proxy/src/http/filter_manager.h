#pragma once

// Runs one stream's filter chain (the contract is in http/filter.h): request events through
// the decoder filters in order, response events through the encoder filters in reverse order,
// holding what a stopped filter holds and pausing the sender past the watermark. It knows no
// protocol and no connection: its owner (ActiveStream) feeds it the request, takes the
// response at the end of the encoder chain, and answers what filters ask through
// FilterManagerCallbacks. Unit-tested on its own (tests/runtime/filter_manager_test.cc).

#include <memory>
#include <vector>

#include "common/buffer.h"
#include "http/filter.h"
#include "http/filter_chain.h"
#include "http/header_map.h"

namespace skiff::http {

// The stream around the chain.
class FilterManagerCallbacks {
 public:
  virtual ~FilterManagerCallbacks() = default;
  // The end of the encoder chain: toward the client.
  virtual void encodeHeadersDownstream(ResponseHead& head, bool end_stream) = 0;
  virtual void encodeDataDownstream(Buffer& data, bool end_stream) = 0;
  virtual void encodeTrailersDownstream(HeaderMap& trailers) = 0;
  // Pause (true) or resume reading the request from the client. Called on changes only.
  virtual void readDisableDownstream(bool disable) = 0;
  // What filters see through their callbacks.
  virtual StreamInfo& streamInfo() = 0;
  virtual server::WorkerContext& worker() = 0;
  virtual const net::Connection& connection() = 0;
  virtual const router::RouteEntry* route() = 0;
  virtual void sendLocalReply(int status, absl::string_view flag, absl::string_view detail) = 0;
};

class FilterManager : public FilterChainBuilder {
 public:
  static constexpr size_t kHeldBytesHighWatermark = 1024 * 1024;
  static constexpr size_t kHeldBytesLowWatermark = kHeldBytesHighWatermark / 2;

  explicit FilterManager(FilterManagerCallbacks& callbacks);
  ~FilterManager() override;
  FilterManager(const FilterManager&) = delete;
  FilterManager& operator=(const FilterManager&) = delete;

  // Makes the stream's filters; call once, before any event.
  void createFilters(const FilterChainFactory& factory);

  // The request, from the client. The head and trailers must outlive the stream's filters
  // (the owner keeps them), since a filter may hold them.
  void decodeHeaders(RequestHead& head, bool end_stream);
  void decodeData(Buffer& data, bool end_stream);
  void decodeTrailers(HeaderMap& trailers);
  // The stream answers by itself: no decoder filter sees more of the request (later bytes are
  // dropped), and what the response's producer still sends is ignored. The owner then encodes
  // the reply with encodeHeaders()/encodeData().
  void beginLocalReply();

  // The response, entering the encoder chain at its start (a local reply, or what the last
  // decoder filter produced). Held events wait in the manager.
  void encodeHeaders(ResponseHead&& head, bool end_stream);
  void encodeData(Buffer& data, bool end_stream);
  void encodeTrailers(HeaderMap&& trailers);

  // The client cannot take more response bytes (true) or can again.
  void onDownstreamWriteBlocked(bool blocked);
  // The stream is over: every filter's onDestroy(), once. No hook runs after it.
  void destroyFilters();

  // FilterChainBuilder
  void addDecoderFilter(std::unique_ptr<StreamDecoderFilter> filter) override;
  void addEncoderFilter(std::unique_ptr<StreamEncoderFilter> filter) override;
  void addFilter(std::unique_ptr<StreamFilter> filter) override;

  // Response headers have entered the encoder chain (a local reply can no longer replace them).
  bool responseStarted() const { return response_started_; }
  // Body bytes the chain holds now (both directions).
  size_t heldBytes() const { return held_request_.bytes + held_response_.bytes; }

 private:
  // Events a stopped filter holds, waiting to go to the filter after it.
  struct Held {
    bool headers = false;
    bool data = false;  // a body piece, or an empty end of stream, was held
    Buffer body;
    bool end_stream = false;
    bool trailers = false;

    void addData(Buffer& piece, bool end) {
      data = true;
      body.move(piece);
      end_stream = end_stream || end;
    }
  };
  // Body bytes one direction's filters hold, against the watermarks.
  struct HeldBytes {
    size_t bytes = 0;
    bool over_watermark = false;
    // Re-reads the watermarks after `bytes` changed.
    void update() {
      if (!over_watermark && bytes > kHeldBytesHighWatermark) over_watermark = true;
      if (over_watermark && bytes < kHeldBytesLowWatermark) over_watermark = false;
    }
  };
  template <class Callbacks, class Filter>
  class Slot;
  class DecoderSlot;
  class EncoderSlot;

  void decodeHeadersFrom(size_t index);
  void decodeDataFrom(size_t index, Buffer& data, bool end_stream);
  void decodeTrailersFrom(size_t index);
  void holdRequestData(DecoderSlot& slot, Buffer& data, bool end_stream);
  void continueDecoding(DecoderSlot& slot);

  void encodeHeadersFrom(size_t index);
  void encodeDataFrom(size_t index, Buffer& data, bool end_stream);
  void encodeTrailersFrom(size_t index);
  void holdResponseData(EncoderSlot& slot, Buffer& data, bool end_stream);
  void continueEncoding(EncoderSlot& slot);

  // A filter's readDisableDownstream(), combined with the chain's own request watermark.
  void readDisableFromFilter(bool disable);
  void updateDownstreamReadDisabled();
  void updateDecoderWriteBlocked();

  FilterManagerCallbacks& callbacks_;
  // The slots own the filters (a StreamFilter by its decoder slot). Filters get their
  // callbacks only once both vectors are complete: the callbacks point into them.
  std::vector<DecoderSlot> decoders_;  // chain order
  std::vector<EncoderSlot> encoders_;  // response order (the chain reversed)

  RequestHead* request_head_ = nullptr;
  HeaderMap* request_trailers_ = nullptr;
  bool request_end_in_headers_ = false;
  ResponseHead response_head_;
  HeaderMap response_trailers_;
  bool response_end_in_headers_ = false;

  HeldBytes held_request_;
  HeldBytes held_response_;
  bool filter_read_disabled_ = false;
  bool downstream_read_disabled_ = false;
  bool response_started_ = false;
  bool downstream_write_blocked_ = false;
  bool decoders_write_blocked_ = false;
  bool decoding_stopped_ = false;
  bool local_reply_ = false;
  bool destroyed_ = false;
};

}  // namespace skiff::http
