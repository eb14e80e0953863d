#pragma once

// The caller's identity, as the application sees it, on listeners with mutual TLS: the header
// (x-forwarded-client-cert unless the listener names another) is removed from every request, so
// no caller can choose what the application reads, and set from the verified certificate when
// the caller presented one ("By=<own identity>;URI=<caller identity>", as Envoy writes it).

#include <string>

#include "http/filter.h"
#include "http/filter_chain.h"

namespace skiff::filters {

class ClientIdentityFilter : public http::StreamDecoderFilter {
 public:
  static http::FilterChainFactory::Factory factory(std::string header);
  // `header` is the factory's copy: a listener's chain outlives every stream it serves.
  explicit ClientIdentityFilter(const std::string& header) : header_(header) {}

  void setDecoderFilterCallbacks(http::DecoderFilterCallbacks& callbacks) override {
    callbacks_ = &callbacks;
  }
  http::FilterStatus decodeHeaders(http::RequestHead& head,
                                          bool end_stream) override;

 private:
  const std::string& header_;
  http::DecoderFilterCallbacks* callbacks_ = nullptr;
};

}  // namespace skiff::filters
