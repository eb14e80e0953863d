#pragma once

// The headers a proxy owes the application: x-request-id (kept when the client sent one, so a
// request keeps its id across hops; else a new UUID v4), x-forwarded-for (the client's address
// appended) and x-forwarded-proto. First in every chain.

#include "http/filter.h"
#include "http/filter_chain.h"

namespace skiff::filters {

class ProxyHeadersFilter : public http::StreamDecoderFilter {
 public:
  static http::FilterChainFactory::Factory factory();

  void setDecoderFilterCallbacks(http::DecoderFilterCallbacks& callbacks) override {
    callbacks_ = &callbacks;
  }
  http::FilterStatus decodeHeaders(http::RequestHead& head,
                                          bool end_stream) override;

 private:
  http::DecoderFilterCallbacks* callbacks_ = nullptr;
};

}  // namespace skiff::filters
