#include "router/router_filter.h"

#include <memory>

#include "absl/strings/str_cat.h"

namespace skiff::router {

http::FilterChainFactory::Factory RouterFilter::factory() {
  return [](http::FilterChainBuilder& chain) {
    chain.addDecoderFilter(std::make_unique<RouterFilter>());
  };
}

http::FilterStatus RouterFilter::decodeHeaders(http::RequestHead& head, bool end_stream) {
  const RouteEntry* route = callbacks_->route();
  if (route == nullptr) {
    callbacks_->sendLocalReply(
        404, "NR", absl::StrCat("no route for ", head.authority, head.pathWithoutQuery()));
    return http::FilterStatus::kStop;
  }
  router_.emplace(callbacks_->worker(), *this, *route, callbacks_->streamInfo());
  router_->decodeHeaders(std::move(head), end_stream);
  return http::FilterStatus::kContinue;
}

http::FilterStatus RouterFilter::decodeData(Buffer& data, bool end_stream) {
  if (router_) router_->decodeData(data, end_stream);
  return http::FilterStatus::kContinue;
}

http::FilterStatus RouterFilter::decodeTrailers(http::HeaderMap& trailers) {
  if (router_) router_->decodeTrailers(std::move(trailers));
  return http::FilterStatus::kContinue;
}

void RouterFilter::onDownstreamWriteBlocked(bool blocked) {
  if (router_) router_->onDownstreamWriteBlocked(blocked);
}

void RouterFilter::onDestroy() {
  if (router_) router_->reset();
}

void RouterFilter::onUpstreamHead(http::ResponseHead&& head, bool end_stream) {
  callbacks_->encodeHeaders(std::move(head), end_stream);
}

void RouterFilter::onUpstreamData(Buffer& data, bool end_stream) {
  callbacks_->encodeData(data, end_stream);
}

void RouterFilter::onUpstreamTrailers(http::HeaderMap&& trailers) {
  callbacks_->encodeTrailers(std::move(trailers));
}

void RouterFilter::onUpstreamFailure(int status, absl::string_view flag,
                                     absl::string_view detail) {
  callbacks_->sendLocalReply(status, flag, detail);
}

void RouterFilter::onUpstreamWriteBlocked(bool blocked) {
  callbacks_->readDisableDownstream(blocked);
}

const net::Connection* RouterFilter::downstreamConnection() const {
  return &callbacks_->connection();
}

}  // namespace skiff::router
