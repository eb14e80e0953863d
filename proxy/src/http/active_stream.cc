#include "http/active_stream.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "http/grpc.h"

namespace skiff::http {

ActiveStream::ActiveStream(server::WorkerContext& worker, const HttpListenerConfig& config,
                           ResponseEncoder& encoder, const std::string& remote_ip,
                           const std::string& remote_address,
                           const net::Connection& connection)
    : worker_(worker),
      config_(config),
      encoder_(encoder),
      connection_(connection),
      filters_(*this) {
  event::TimeSource& time = worker_.dispatcher().timeSource();
  info_.start_time = absl::FromChrono(time.systemTime());
  info_.start = time.monotonicTime();
  info_.downstream_remote = remote_address;
  info_.downstream_remote_ip = remote_ip;
  info_.downstream_peer_identity = connection.peerIdentity();
  config_.stats->requests_active.add(1);
  filters_.createFilters(config_.filter_chain);
}

ActiveStream::~ActiveStream() { config_.stats->requests_active.sub(1); }

event::MonotonicTime ActiveStream::now() { return worker_.dispatcher().timeSource().monotonicTime(); }

void ActiveStream::decodeHead(RequestHead&& head, bool end_stream) {
  request_head_ = std::move(head);
  info_.protocol = std::string(protocolName(request_head_.protocol));
  info_.method = request_head_.method;
  info_.authority = request_head_.authority;
  info_.path = request_head_.path;
  info_.grpc = grpc::isGrpcRequest(request_head_.headers);
  is_head_request_ = request_head_.method == "HEAD";
  config_.stats->requests_by_protocol[static_cast<size_t>(request_head_.protocol)]->inc();
  if (end_stream) markRequestComplete();

  routes_ = config_.routes ? config_.routes : worker_.routeTable(config_.rds_name);
  if (!routes_) {
    // A listener is not bound before its route configuration arrives; this is a safety net.
    sendLocalReply(404, "NR", absl::StrCat("no route configuration ", config_.rds_name));
    return;
  }
  filters_.decodeHeaders(request_head_, end_stream);
}

void ActiveStream::decodeData(Buffer& data, bool end_stream) {
  info_.bytes_received += data.length();
  if (end_stream) markRequestComplete();
  if (complete_) {
    data.clear();
    return;
  }
  filters_.decodeData(data, end_stream);
}

void ActiveStream::decodeTrailers(HeaderMap&& trailers) {
  markRequestComplete();
  if (complete_) return;
  request_trailers_ = std::move(trailers);
  filters_.decodeTrailers(request_trailers_);
}

void ActiveStream::markRequestComplete() {
  if (request_complete_) return;
  request_complete_ = true;
  info_.request_complete = info_.sinceStart(now());
}

const router::RouteEntry* ActiveStream::route() {
  if (!route_resolved_) {
    route_resolved_ = true;
    route_ = routes_ ? routes_->match(request_head_) : nullptr;
    if (route_ != nullptr) info_.route_name = route_->name();
  }
  return route_;
}

void ActiveStream::onDownstreamWriteBlocked(bool blocked) {
  filters_.onDownstreamWriteBlocked(blocked);
}

// ---- The response, at the end of the encoder chain ----

void ActiveStream::encodeHeadersDownstream(ResponseHead& head, bool end_stream) {
  if (complete_) return;
  info_.status = head.status;
  info_.response_started = info_.sinceStart(now());
  if (info_.grpc && end_stream) noteGrpcStatus(head.headers);
  encoder_.encodeHead(head, end_stream);
  if (end_stream && head.status != 101) finish(false);
}

void ActiveStream::encodeDataDownstream(Buffer& data, bool end_stream) {
  if (complete_) {
    data.clear();
    return;
  }
  info_.bytes_sent += data.length();
  encoder_.encodeData(data, end_stream);
  if (end_stream) finish(false);
}

void ActiveStream::encodeTrailersDownstream(HeaderMap& trailers) {
  if (complete_) return;
  if (info_.grpc) noteGrpcStatus(trailers);
  encoder_.encodeTrailers(trailers);
  finish(false);
}

void ActiveStream::sendLocalReply(int status, absl::string_view flag, absl::string_view detail) {
  if (complete_) return;
  info_.addResponseFlag(flag);
  if (filters_.responseStarted()) {
    // Part of the response is already out: the only honest signal left is a reset.
    finish(true);
    return;
  }
  filters_.beginLocalReply();
  ResponseHead head;
  head.protocol = request_head_.protocol;
  if (info_.grpc) {
    // gRPC clients read the outcome from grpc-status, not from an HTML page: a trailers-only
    // response (RFC: gRPC over HTTP/2, "Trailers-Only").
    grpc::fillTrailersOnlyResponse(head, grpc::statusForLocalReply(status, flag), detail);
    head.headers.add("x-skiff-flags", std::string(flag));
    filters_.encodeHeaders(std::move(head), true);
    return;
  }
  std::string body = absl::StrCat(detail, "\n");
  head.status = status;
  head.headers.add("content-type", "text/plain");
  head.headers.add("content-length", std::to_string(body.size()));
  head.headers.add("x-skiff-flags", std::string(flag));
  if (is_head_request_) {
    filters_.encodeHeaders(std::move(head), true);
    return;
  }
  filters_.encodeHeaders(std::move(head), false);
  Buffer data;
  data.add(body);
  filters_.encodeData(data, true);
}

void ActiveStream::noteGrpcStatus(const HeaderMap& headers) {
  const std::string* value = headers.get("grpc-status");
  int code = 0;
  if (value != nullptr && absl::SimpleAtoi(*value, &code) && code >= 0) info_.grpc_status = code;
}

void ActiveStream::abort(absl::string_view flag) {
  if (complete_) return;
  info_.addResponseFlag(flag);
  finish(true);
}

void ActiveStream::finish(bool reset) {
  if (complete_) return;
  complete_ = true;
  // Filters end first (the router abandons an unfinished upstream request), then the record
  // they wrote is read.
  filters_.destroyFilters();
  info_.duration = info_.sinceStart(now());
  ListenerStats& stats = *config_.stats;
  // 499 (client closed request), as nginx counts a request the client abandoned.
  stats.requests_total.inc(info_.status == 0 ? 499 : info_.status);
  stats.request_duration.record(std::chrono::duration<double>(info_.duration).count());
  if (info_.grpc_status >= 0 &&
      info_.grpc_status < static_cast<int>(stats.grpc_responses.size())) {
    stats.grpc_responses[info_.grpc_status]->inc();
  }
  if (access_log::Logger* logger = worker_.accessLogger(config_.access_log)) logger->log(info_);
  encoder_.onStreamComplete(reset);
}

}  // namespace skiff::http
