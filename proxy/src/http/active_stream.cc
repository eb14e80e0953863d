#include "http/active_stream.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "filters/authz/listener_authorization.h"
#include "http/grpc.h"

namespace skiff::http {
namespace {

std::string generateRequestId(Random& random) {
  // RFC 4122 version 4 UUID, written straight into its final string.
  uint64_t high = random.next();
  uint64_t low = random.next();
  high = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(36, '-');
  int pos = 0;
  for (int nibble = 0; nibble < 32; ++nibble) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
    uint64_t word = nibble < 16 ? high : low;
    id[pos++] = kHex[(word >> (60 - 4 * (nibble % 16))) & 0xf];
  }
  return id;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

ActiveStream::ActiveStream(server::WorkerContext& worker, const HttpListenerConfig& config,
                           ResponseEncoder& encoder, const std::string& remote_ip,
                           const std::string& remote_address,
                           const net::Connection& connection)
    : worker_(worker),
      config_(config),
      encoder_(encoder),
      remote_ip_(remote_ip),
      remote_address_(remote_address),
      connection_(connection),
      start_(std::chrono::steady_clock::now()),
      start_time_(absl::Now()) {
  config_.stats->requests_active.add(1);
}

ActiveStream::~ActiveStream() { config_.stats->requests_active.sub(1); }

void ActiveStream::decodeHead(RequestHead&& head, bool end_stream) {
  method_ = head.method;
  authority_ = head.authority;
  path_ = head.path;
  protocol_ = head.protocol;
  request_complete_ = end_stream;
  is_head_request_ = head.method == "HEAD";
  grpc_ = grpc::isGrpcRequest(head.headers);
  config_.stats->requests_by_protocol[static_cast<size_t>(protocol_)]->inc();

  if (const std::string* id = head.headers.get("x-request-id")) {
    request_id_ = *id;
  } else {
    request_id_ = generateRequestId(worker_.random());
    head.headers.add("x-request-id", request_id_);
  }
  if (const std::string* xff = head.headers.get("x-forwarded-for")) {
    head.headers.set("x-forwarded-for", absl::StrCat(*xff, ", ", remote_ip_));
  } else {
    head.headers.add("x-forwarded-for", remote_ip_);
  }
  head.headers.set("x-forwarded-proto", head.scheme.empty() ? "http" : head.scheme);
  if (!config_.client_identity_header.empty()) rewriteClientIdentity(head.headers);
  if (config_.authorization && !authorize()) return;

  std::shared_ptr<const router::RouteTable> routes =
      config_.routes ? config_.routes : worker_.routeTable(config_.rds_name);
  if (!routes) {
    // A listener is not bound before its route configuration arrives; this is a safety net.
    sendLocalReply(404, "NR", absl::StrCat("no route configuration ", config_.rds_name));
    return;
  }
  router_ = std::make_unique<router::Router>(worker_, *this, std::move(routes));
  router_->decodeHeaders(std::move(head), end_stream);
}

bool ActiveStream::authorize() {
  if (config_.authorization->allowRequest(connection_, method_, path_)) return true;
  // Envoy's RBAC filter answers the same way, so clients and dashboards read it alike.
  sendLocalReply(403, "RBAC", "RBAC: access denied");
  return false;
}

void ActiveStream::rewriteClientIdentity(HeaderMap& headers) {
  headers.remove(config_.client_identity_header);
  if (!connection_.peerIdentity().empty()) {
    headers.add(config_.client_identity_header,
                filters::authz::clientIdentityHeaderValue(connection_));
  }
}

void ActiveStream::decodeData(Buffer& data, bool end_stream) {
  bytes_received_ += data.length();
  if (end_stream) request_complete_ = true;
  if (router_ && !complete_) {
    router_->decodeData(data, end_stream);
  } else {
    data.clear();
  }
}

void ActiveStream::decodeTrailers(HeaderMap&& trailers) {
  request_complete_ = true;
  if (router_ && !complete_) router_->decodeTrailers(std::move(trailers));
}

void ActiveStream::onUpstreamHead(ResponseHead&& head, bool end_stream) {
  if (complete_) return;
  status_ = head.status;
  response_started_ = true;
  if (grpc_ && end_stream) noteGrpcStatus(head.headers);
  encoder_.encodeHead(head, end_stream);
  if (end_stream && head.status != 101) finish(false);
}

void ActiveStream::onUpstreamData(Buffer& data, bool end_stream) {
  if (complete_) return;
  bytes_sent_ += data.length();
  encoder_.encodeData(data, end_stream);
  if (end_stream) finish(false);
}

void ActiveStream::onUpstreamTrailers(HeaderMap&& trailers) {
  if (complete_) return;
  if (grpc_) noteGrpcStatus(trailers);
  encoder_.encodeTrailers(trailers);
  finish(false);
}

void ActiveStream::onUpstreamFailure(int status, absl::string_view flag,
                                     absl::string_view detail) {
  if (complete_) return;
  if (response_started_) {
    // Part of the response is already out: the only honest signal left is a reset.
    flags_ = std::string(flag);
    finish(true);
    return;
  }
  sendLocalReply(status, flag, detail);
}

void ActiveStream::onUpstreamWriteBlocked(bool blocked) { encoder_.readDisable(blocked); }

void ActiveStream::onDownstreamWriteBlocked(bool blocked) {
  if (router_) router_->onDownstreamWriteBlocked(blocked);
}

void ActiveStream::sendLocalReply(int status, absl::string_view flag, absl::string_view detail) {
  if (complete_) return;
  if (router_) router_->reset();
  flags_ = std::string(flag);
  response_started_ = true;
  ResponseHead head;
  head.protocol = protocol_;
  if (grpc_) {
    // gRPC clients read the outcome from grpc-status, not from an HTML page: a trailers-only
    // response (RFC: gRPC over HTTP/2, "Trailers-Only").
    status_ = 200;
    grpc::fillTrailersOnlyResponse(head, grpc::statusForLocalReply(status, flag), detail);
    head.headers.add("x-skiff-flags", std::string(flag));
    noteGrpcStatus(head.headers);
    encoder_.encodeHead(head, true);
    finish(false);
    return;
  }
  status_ = status;
  std::string body = absl::StrCat(detail, "\n");
  head.status = status;
  head.headers.add("content-type", "text/plain");
  head.headers.add("content-length", std::to_string(body.size()));
  head.headers.add("x-skiff-flags", std::string(flag));
  if (is_head_request_) {
    encoder_.encodeHead(head, true);
  } else {
    encoder_.encodeHead(head, false);
    Buffer data;
    data.add(body);
    bytes_sent_ += data.length();
    encoder_.encodeData(data, true);
  }
  finish(false);
}

void ActiveStream::noteGrpcStatus(const HeaderMap& headers) {
  const std::string* value = headers.get("grpc-status");
  int code = 0;
  if (value != nullptr && absl::SimpleAtoi(*value, &code) && code >= 0) grpc_status_ = code;
}

void ActiveStream::abort(absl::string_view flag) {
  if (complete_) return;
  flags_ = std::string(flag);
  if (router_) router_->reset();
  finish(true);
}

void ActiveStream::finish(bool reset) {
  if (complete_) return;
  complete_ = true;
  ListenerStats& stats = *config_.stats;
  // 499 (client closed request), as nginx counts a request the client abandoned.
  stats.requests_total.inc(status_ == 0 ? 499 : status_);
  stats.request_duration.record(secondsSince(start_));
  if (grpc_status_ >= 0 && grpc_status_ < static_cast<int>(stats.grpc_responses.size())) {
    stats.grpc_responses[grpc_status_]->inc();
  }
  if (access_log::Logger* logger = worker_.accessLogger(config_.access_log)) {
    access_log::Entry entry;
    entry.start_time = start_time_;
    entry.protocol = std::string(protocolName(protocol_));
    entry.method = method_;
    entry.authority = authority_;
    entry.path = path_;
    entry.status = status_;
    entry.grpc_status = grpc_status_;
    entry.bytes_received = bytes_received_;
    entry.bytes_sent = bytes_sent_;
    entry.duration =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                              start_);
    if (router_) {
      entry.upstream_cluster = router_->clusterName();
      entry.upstream_host = router_->upstreamAddress();
    }
    entry.flags = flags_;
    entry.request_id = request_id_;
    entry.downstream_remote = remote_address_;
    logger->log(entry);
  }
  encoder_.onStreamComplete(reset);
}

}  // namespace skiff::http
