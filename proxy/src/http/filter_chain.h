#pragma once

// A listener's HTTP filter chain, compiled once from its configuration: an ordered list of
// factories, each making one filter for every new stream. server/http_filter_chains.cc builds
// one per direction (inbound sidecar, outbound sidecar, plain listener).

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/filter.h"

namespace skiff::http {

// Where a factory puts the filters it makes, in chain order.
class FilterChainBuilder {
 public:
  virtual ~FilterChainBuilder() = default;
  virtual void addDecoderFilter(std::unique_ptr<StreamDecoderFilter> filter) = 0;
  virtual void addEncoderFilter(std::unique_ptr<StreamEncoderFilter> filter) = 0;
  virtual void addFilter(std::unique_ptr<StreamFilter> filter) = 0;
};

class FilterChainFactory {
 public:
  using Factory = std::function<void(FilterChainBuilder&)>;

  // `name` says what the filter is, for /config_dump and the docs ("proxy_headers", "router").
  void add(std::string name, Factory factory) {
    names_.push_back(std::move(name));
    factories_.push_back(std::move(factory));
  }
  void createFilters(FilterChainBuilder& builder) const {
    for (const Factory& factory : factories_) factory(builder);
  }
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return factories_.size(); }

 private:
  std::vector<std::string> names_;
  std::vector<Factory> factories_;
};

}  // namespace skiff::http
