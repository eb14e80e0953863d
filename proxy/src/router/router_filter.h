#pragma once

// The router as the last filter of every HTTP chain: it takes the route the stream matched,
// hands the request to a Router, and feeds the Router's response into the encoder chain. A
// request that matches no route is answered 404 (flag NR).

#include <optional>

#include "http/filter.h"
#include "http/filter_chain.h"
#include "router/router.h"

namespace skiff::router {

class RouterFilter : public http::StreamDecoderFilter, public RouterCallbacks {
 public:
  static http::FilterChainFactory::Factory factory();

  // http::StreamDecoderFilter
  void setDecoderFilterCallbacks(http::DecoderFilterCallbacks& callbacks) override {
    callbacks_ = &callbacks;
  }
  http::FilterStatus decodeHeaders(http::RequestHead& head, bool end_stream) override;
  http::FilterStatus decodeData(Buffer& data, bool end_stream) override;
  http::FilterStatus decodeTrailers(http::HeaderMap& trailers) override;
  void onDownstreamWriteBlocked(bool blocked) override;
  void onDestroy() override;

  // RouterCallbacks
  void onUpstreamHead(http::ResponseHead&& head, bool end_stream) override;
  void onUpstreamData(Buffer& data, bool end_stream) override;
  void onUpstreamTrailers(http::HeaderMap&& trailers) override;
  void onUpstreamFailure(int status, absl::string_view flag, absl::string_view detail) override;
  void onUpstreamWriteBlocked(bool blocked) override;
  const net::Connection* downstreamConnection() const override;

 private:
  http::DecoderFilterCallbacks* callbacks_ = nullptr;
  std::optional<Router> router_;  // from the request head on (in place: no second allocation)
};

}  // namespace skiff::router
