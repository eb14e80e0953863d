#pragma once

// gRPC over HTTP: recognising gRPC requests, deadlines, and the trailers-only responses the
// proxy sends when it fails a call itself.

#include <chrono>
#include <optional>

#include "absl/strings/string_view.h"
#include "http/header_map.h"

namespace skiff::http::grpc {

// gRPC status codes the proxy produces.
enum class Status : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kDeadlineExceeded = 4,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// content-type application/grpc, application/grpc+proto, ...
bool isGrpcRequest(const HeaderMap& headers);

// The gRPC status for a local reply: by response flag first (UT -> DEADLINE_EXCEEDED,
// UF/UH/UC -> UNAVAILABLE, NR -> UNIMPLEMENTED, RL -> RESOURCE_EXHAUSTED), else by the HTTP
// status as the gRPC spec maps HTTP statuses.
Status statusForLocalReply(int http_status, absl::string_view flag);

// :status 200, content-type application/grpc, grpc-status, grpc-message (percent-encoded).
void fillTrailersOnlyResponse(ResponseHead& head, Status status, absl::string_view message);

// The grpc-timeout header ("<1-8 digits><H|M|S|m|u|n>"); nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> parseTimeout(const HeaderMap& headers);

}  // namespace skiff::http::grpc
