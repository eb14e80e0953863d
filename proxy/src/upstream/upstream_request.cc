#include "upstream/upstream_request.h"

#include "net/connection.h"

namespace skiff::upstream {

absl::string_view poolFailureReasonName(PoolFailureReason reason) {
  switch (reason) {
    case PoolFailureReason::kConnectFailure:
      return "connect error";
    case PoolFailureReason::kTimeout:
      return "connect timeout";
    case PoolFailureReason::kTlsFailure:
      return "TLS handshake failure";
    case PoolFailureReason::kOverflow:
      return "overflow";
  }
  return "failure";
}

std::unique_ptr<ConnectionPool::Pending> ConnectionPool::Pending::admit(
    PoolCallbacks& callbacks, ResourceLimit& pending_requests) {
  if (!pending_requests.tryAcquire()) {
    callbacks.onPoolFailure(PoolFailureReason::kOverflow);
    return nullptr;
  }
  return std::make_unique<Pending>(callbacks, pending_requests);
}

PoolFailureReason ConnectionPool::failureReason(const net::Connection& connection) {
  if (connection.connectTimedOut()) return PoolFailureReason::kTimeout;
  if (connection.tlsFailed()) return PoolFailureReason::kTlsFailure;
  return PoolFailureReason::kConnectFailure;
}

}  // namespace skiff::upstream
