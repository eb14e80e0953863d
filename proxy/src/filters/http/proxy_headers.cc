#include "filters/http/proxy_headers.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "server/worker_context.h"

namespace skiff::filters {
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

}  // namespace

http::FilterChainFactory::Factory ProxyHeadersFilter::factory() {
  return [](http::FilterChainBuilder& chain) {
    chain.addDecoderFilter(std::make_unique<ProxyHeadersFilter>());
  };
}

http::FilterStatus ProxyHeadersFilter::decodeHeaders(http::RequestHead& head,
                                                            bool) {
  StreamInfo& info = callbacks_->streamInfo();
  if (const std::string* id = head.headers.get("x-request-id")) {
    info.request_id = *id;
  } else {
    info.request_id = generateRequestId(callbacks_->worker().random());
    head.headers.add("x-request-id", info.request_id);
  }
  absl::string_view client_ip = info.downstream_remote_ip;
  if (const std::string* xff = head.headers.get("x-forwarded-for")) {
    head.headers.set("x-forwarded-for", absl::StrCat(*xff, ", ", client_ip));
  } else {
    head.headers.add("x-forwarded-for", std::string(client_ip));
  }
  head.headers.set("x-forwarded-proto", head.scheme.empty() ? "http" : head.scheme);
  return http::FilterStatus::kContinue;
}

}  // namespace skiff::filters
