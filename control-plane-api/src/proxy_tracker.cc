#include "proxy_tracker.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "translator.h"

namespace skiff::control {

std::string nextNonce() {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

ProxyTracker::ProxyTracker(config::v1::Node node, StreamType stream_type, std::string peer,
                           int64_t connected_since)
    : node_(std::move(node)),
      stream_type_(stream_type),
      peer_(std::move(peer)),
      connected_since_(connected_since) {}

void ProxyTracker::recordSent(const std::string& type_url, const std::string& nonce,
                              const std::string& version, uint32_t resource_count) {
  TypeState& state = types_[type_url];
  state.latest_nonce = nonce;
  state.status.set_type_url(type_url);
  state.status.set_sent_version(version);
  state.status.set_resource_count(resource_count);
}

ProxyTracker::Answer ProxyTracker::onRequest(const std::string& type_url,
                                             const std::string& nonce,
                                             const discovery::v1::ErrorDetail* error,
                                             int64_t now) {
  if (nonce.empty()) {
    types_[type_url].status.set_type_url(type_url);
    return Answer::kFirst;
  }
  auto it = types_.find(type_url);
  if (it == types_.end() || it->second.latest_nonce != nonce) return Answer::kStale;
  control::v1::TypeStatus& status = it->second.status;
  if (error == nullptr) {
    status.set_acked_version(status.sent_version());
    status.clear_nacked_version();
    return Answer::kAck;
  }
  status.set_nacked_version(status.sent_version());
  status.set_last_nack_error(error->message());
  status.set_last_nack_time(now);
  return Answer::kNack;
}

const std::string& ProxyTracker::sentVersion(const std::string& type_url) const {
  static const std::string kNone;
  auto it = types_.find(type_url);
  return it == types_.end() ? kNone : it->second.status.sent_version();
}

control::v1::ProxyStatus ProxyTracker::status() const {
  control::v1::ProxyStatus out;
  *out.mutable_node() = node_;
  out.set_stream_type(stream_type_ == StreamType::kDelta ? "DELTA" : "STATE_OF_THE_WORLD");
  out.set_peer(peer_);
  out.set_connected_since(connected_since_);
  bool synced = !mesh_version_.empty();
  for (const std::string& type_url : kPushOrder) {
    auto it = types_.find(type_url);
    if (it == types_.end()) {
      synced = false;
      continue;
    }
    const control::v1::TypeStatus& status = it->second.status;
    *out.add_types() = status;
    if (status.sent_version().empty() || status.acked_version() != status.sent_version() ||
        !status.nacked_version().empty()) {
      synced = false;
    }
  }
  if (synced) out.set_synced_version(mesh_version_);
  return out;
}

}  // namespace skiff::control
