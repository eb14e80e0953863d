#include "http/grpc.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace skiff::http::grpc {

bool isGrpcRequest(const HeaderMap& headers) {
  const std::string* type = headers.get("content-type");
  if (type == nullptr) return false;
  absl::string_view value(*type);
  if (!absl::StartsWith(value, "application/grpc")) return false;
  return value.size() == 16 || value[16] == '+' || value[16] == ';';
}

Status statusForLocalReply(int http_status, absl::string_view flag) {
  if (flag == "UT" || flag == "SI") return Status::kDeadlineExceeded;
  if (flag == "UF" || flag == "UH" || flag == "UC" || flag == "NC") return Status::kUnavailable;
  if (flag == "NR") return Status::kUnimplemented;
  // A local rate limit (429 maps to UNAVAILABLE otherwise): the client should back off, not
  // fail over, as Envoy's local_ratelimit answers with rate_limited_as_resource_exhausted.
  if (flag == "RL") return Status::kResourceExhausted;
  switch (http_status) {
    case 400: return Status::kInternal;
    case 401: return Status::kUnauthenticated;
    case 403: return Status::kPermissionDenied;
    case 404: return Status::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504: return Status::kUnavailable;
    default: return Status::kUnknown;
  }
}

void fillTrailersOnlyResponse(ResponseHead& head, Status status, absl::string_view message) {
  head.status = 200;
  head.headers.add("content-type", "application/grpc");
  head.headers.add("grpc-status", std::to_string(static_cast<int>(status)));
  // grpc-message is percent-encoded: everything outside printable ASCII, and '%' itself.
  std::string encoded;
  for (unsigned char c : message) {
    if (c < 0x20 || c > 0x7e || c == '%') {
      absl::StrAppendFormat(&encoded, "%%%02X", c);
    } else {
      encoded.push_back(static_cast<char>(c));
    }
  }
  if (!encoded.empty()) head.headers.add("grpc-message", encoded);
}

std::optional<std::chrono::milliseconds> parseTimeout(const HeaderMap& headers) {
  const std::string* value = headers.get("grpc-timeout");
  if (value == nullptr || value->size() < 2 || value->size() > 9) return std::nullopt;
  uint64_t amount = 0;
  if (!absl::SimpleAtoi(absl::string_view(*value).substr(0, value->size() - 1), &amount)) {
    return std::nullopt;
  }
  using std::chrono::milliseconds;
  switch (value->back()) {
    case 'H': return milliseconds(amount * 3600 * 1000);
    case 'M': return milliseconds(amount * 60 * 1000);
    case 'S': return milliseconds(amount * 1000);
    case 'm': return milliseconds(amount);
    // Round sub-millisecond deadlines up: 0 would mean "no timeout".
    case 'u': return milliseconds((amount + 999) / 1000);
    case 'n': return milliseconds((amount + 999999) / 1000000);
    default: return std::nullopt;
  }
}

}  // namespace skiff::http::grpc
