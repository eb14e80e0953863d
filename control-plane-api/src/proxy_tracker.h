#pragma once

// What one connected proxy has been sent, ACKed and NACKed, per resource type: the ACK/NACK
// state machine of docs/xds.md ("ACK and NACK"). Not thread-safe: its stream guards it.
//
//   recordSent(type, nonce, version)   a response left; its nonce is now the latest of the type
//   onRequest(type, nonce, error)      kFirst  no nonce: the proxy (re)subscribes to the type
//                                      kStale  not the latest nonce of the type: ignored
//                                      kAck    latest nonce, no error: acked = sent version
//                                      kNack   latest nonce with error: the version, text, time
//                                              are recorded; nothing is resent until the
//                                              proxy's resources change again

#include <cstdint>
#include <map>
#include <string>

#include "skiff/config/v1/common.pb.h"
#include "skiff/control/v1/status.pb.h"
#include "skiff/discovery/v1/discovery.pb.h"

namespace skiff::control {

enum class StreamType { kDelta, kStateOfTheWorld };

// A fresh nonce, unique in this process.
std::string nextNonce();

class ProxyTracker {
 public:
  enum class Answer { kFirst, kStale, kAck, kNack };

  ProxyTracker(config::v1::Node node, StreamType stream_type, std::string peer,
               int64_t connected_since);

  void recordSent(const std::string& type_url, const std::string& nonce,
                  const std::string& version, uint32_t resource_count);
  // `error` is null when the request carries no error_detail. `now` is Unix seconds.
  Answer onRequest(const std::string& type_url, const std::string& nonce,
                   const discovery::v1::ErrorDetail* error, int64_t now);

  // The mesh version the stream's last push was computed from.
  void setMeshVersion(const std::string& version) { mesh_version_ = version; }
  bool subscribed(const std::string& type_url) const { return types_.count(type_url) > 0; }
  const std::string& sentVersion(const std::string& type_url) const;
  const config::v1::Node& node() const { return node_; }

  // synced_version is the mesh version when every type of kPushOrder is ACKed at the version
  // last sent and none is NACKed.
  control::v1::ProxyStatus status() const;

 private:
  struct TypeState {
    std::string latest_nonce;
    control::v1::TypeStatus status;
  };

  config::v1::Node node_;
  StreamType stream_type_;
  std::string peer_;
  int64_t connected_since_;
  std::string mesh_version_;
  std::map<std::string, TypeState> types_;
};

}  // namespace skiff::control
