// The two ADS stream reactors. Shared: the read loop, the write queue (gRPC allows one write in
// flight per stream) and the finish path. Per type: what was sent, and the ACK/NACK tracker.

#include "discovery_server.h"

#include <algorithm>
#include <deque>

#include "absl/time/clock.h"
#include "common/logging.h"
#include "proxy_tracker.h"

namespace skiff::control {
namespace {

using discovery::v1::DeltaDiscoveryRequest;
using discovery::v1::DeltaDiscoveryResponse;
using discovery::v1::DiscoveryRequest;
using discovery::v1::DiscoveryResponse;

int64_t nowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

bool isKnownType(const std::string& type_url) {
  return std::find(kPushOrder.begin(), kPushOrder.end(), type_url) != kPushOrder.end();
}

// Removing a cluster or assignment waits until the routes and listeners that named it have
// been replaced, so these two types are pushed in two phases.
bool isReferencedType(const std::string& type_url) {
  return type_url == xds::kClusterType || type_url == xds::kEndpointType;
}

const char* describe(ProxyTracker::Answer answer) {
  switch (answer) {
    case ProxyTracker::Answer::kFirst:
      return "subscribe";
    case ProxyTracker::Answer::kStale:
      return "stale nonce";
    case ProxyTracker::Answer::kAck:
      return "ACK";
    case ProxyTracker::Answer::kNack:
      return "NACK";
  }
  return "";
}

template <typename Request, typename Response>
class Stream : public grpc::ServerBidiReactor<Request, Response>, public ProxyStream {
 public:
  Stream(DiscoveryServer& server, grpc::CallbackServerContext* context, StreamType type)
      : server_(server), peer_(context->peer()), type_(type) {
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    // Joining the registry here (reads are serialized, and before taking mutex_ because the
    // registry lock comes first) means a publish either reaches this stream or happened before
    // the first request reads the current snapshot.
    if (ok && !attached_) {
      server_.attach(this);
      attached_ = true;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!ok) {
        read_closed_ = true;
      } else {
        handleRequestLocked(request_);
      }
    }
    if (ok) this->StartRead(&request_);
    flush();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      write_in_flight_ = false;
      queue_.pop_front();
      if (!ok) read_closed_ = true;  // the peer is gone; finish instead of writing more
    }
    flush();
  }

  void OnDone() override {
    server_.detach(this);
    if (tracker_) {
      SKIFF_LOG(kInfo, "proxy disconnected: node=%s workload=%s peer=%s",
                tracker_->node().id(), tracker_->node().workload(), peer_);
    }
    delete this;
  }

  bool push(const std::shared_ptr<const MeshSnapshot>& snapshot) override {
    bool pushed = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (snapshot == snapshot_) return false;
      snapshot_ = snapshot;
      if (!tracker_) return false;
      resources_ = snapshot_->resourcesFor(tracker_->node());
      tracker_->setMeshVersion(snapshot_->version());
      pushed = pushChangesLocked();
    }
    flush();
    return pushed;
  }

  std::optional<control::v1::ProxyStatus> status() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!tracker_) return std::nullopt;
    return tracker_->status();
  }

 protected:
  // Handles one request of the proxy (the node is known from then on).
  void handleRequestLocked(const Request& request) {
    if (!tracker_) {
      tracker_.emplace(request.node(), type_, peer_, nowSeconds());
      if (!snapshot_) snapshot_ = server_.current();
      resources_ = snapshot_->resourcesFor(request.node());
      tracker_->setMeshVersion(snapshot_->version());
      SKIFF_LOG(kInfo, "proxy connected: node=%s workload=%s stream=%s peer=%s%s",
                request.node().id(), request.node().workload(),
                type_ == StreamType::kDelta ? "delta" : "sotw", peer_,
                resources_->workload.empty() ? " (matches no instance or workload: no resources)"
                                             : "");
    }
    const std::string& type_url = request.type_url();
    if (!isKnownType(type_url)) {
      SKIFF_LOG(kWarn, "node %s asked for unknown type %s; ignored", tracker_->node().id(),
                type_url);
      return;
    }
    const discovery::v1::ErrorDetail* error =
        request.has_error_detail() ? &request.error_detail() : nullptr;
    ProxyTracker::Answer answer =
        tracker_->onRequest(type_url, request.response_nonce(), error, nowSeconds());
    SKIFF_LOG(kDebug, "node %s %s %s nonce=%s", tracker_->node().id(), type_url,
              describe(answer), request.response_nonce());
    if (answer == ProxyTracker::Answer::kNack) {
      SKIFF_LOG(kWarn, "proxy NACK: node=%s type=%s version=%s error=%s", tracker_->node().id(),
                type_url, tracker_->sentVersion(type_url), error->message());
    } else if (answer == ProxyTracker::Answer::kFirst) {
      subscribeLocked(request);
    }
  }

  // Queues `response` under a fresh nonce and records it as sent.
  void sendLocked(Response response, const std::string& type_url,
                  const std::string& version, uint32_t resource_count) {
    const std::string nonce = nextNonce();
    response.set_type_url(type_url);
    response.set_nonce(nonce);
    tracker_->recordSent(type_url, nonce, version, resource_count);
    queue_.push_back(std::move(response));
  }

  virtual void subscribeLocked(const Request& request) = 0;
  virtual bool pushChangesLocked() = 0;

  // Starts the next write, or finishes the stream once the proxy has gone. Called without the
  // lock, because gRPC may run reactions on the calling thread.
  void flush() {
    const Response* next = nullptr;
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (finished_ || write_in_flight_) return;
      if (read_closed_) {
        finished_ = true;
        finish = true;
      } else if (!queue_.empty()) {
        write_in_flight_ = true;
        next = &queue_.front();
      }
    }
    if (finish) this->Finish(grpc::Status::OK);
    if (next != nullptr) this->StartWrite(next);
  }

  DiscoveryServer& server_;
  const std::string peer_;
  const StreamType type_;
  bool attached_ = false;  // read side only
  std::mutex mutex_;
  Request request_;
  std::deque<Response> queue_;  // front is in flight when write_in_flight_
  bool write_in_flight_ = false;
  bool read_closed_ = false;
  bool finished_ = false;
  std::optional<ProxyTracker> tracker_;
  std::shared_ptr<const MeshSnapshot> snapshot_;
  std::shared_ptr<const NodeResources> resources_;
  std::set<std::string> subscribed_;
};

using ResourceMap = std::map<std::string, discovery::v1::Resource>;

std::string versionOf(const ResourceMap& resources) {
  std::map<std::string, std::string> versions;
  for (const auto& [name, resource] : resources) versions[name] = resource.version();
  return typeVersion(versions);
}

// State of the world: every response carries the whole list of its type.
class SotwStream final : public Stream<DiscoveryRequest, DiscoveryResponse> {
 public:
  SotwStream(DiscoveryServer& server, grpc::CallbackServerContext* context)
      : Stream(server, context, StreamType::kStateOfTheWorld) {}

 private:
  void subscribeLocked(const DiscoveryRequest& request) override {
    subscribed_.insert(request.type_url());
    sendListLocked(request.type_url(), resources_->type(request.type_url()).by_name);
  }

  bool pushChangesLocked() override {
    bool pushed = false;
    // Phase 1: new and changed resources; clusters and assignments about to go stay listed.
    for (const std::string& type_url : kPushOrder) {
      if (subscribed_.count(type_url) == 0) continue;
      ResourceMap list = resources_->type(type_url).by_name;
      if (isReferencedType(type_url)) list.insert(sent_[type_url].begin(), sent_[type_url].end());
      pushed |= sendIfChangedLocked(type_url, list);
    }
    // Phase 2: the lists without the removed clusters and assignments.
    for (const std::string& type_url : {xds::kClusterType, xds::kEndpointType}) {
      if (subscribed_.count(type_url) == 0) continue;
      pushed |= sendIfChangedLocked(type_url, resources_->type(type_url).by_name);
    }
    return pushed;
  }

  // A version already sent (ACKed or NACKed) is not sent again.
  bool sendIfChangedLocked(const std::string& type_url, const ResourceMap& list) {
    if (versionOf(list) == tracker_->sentVersion(type_url)) return false;
    sendListLocked(type_url, list);
    return true;
  }

  void sendListLocked(const std::string& type_url, const ResourceMap& list) {
    DiscoveryResponse response;
    const std::string version = versionOf(list);
    response.set_version_info(version);
    for (const auto& [name, resource] : list) *response.add_resources() = resource.resource();
    sent_[type_url] = list;
    sendLocked(std::move(response), type_url, version, list.size());
  }

  std::map<std::string, ResourceMap> sent_;  // by type: the list last sent
};

// Delta: responses carry changed resources and removed names only.
class DeltaStream final : public Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
 public:
  DeltaStream(DiscoveryServer& server, grpc::CallbackServerContext* context)
      : Stream(server, context, StreamType::kDelta) {}

 private:
  using Versions = std::map<std::string, std::string>;

  void subscribeLocked(const DeltaDiscoveryRequest& request) override {
    const std::string& type_url = request.type_url();
    for (const std::string& name : request.resource_names_subscribe()) {
      if (name != "*") {
        SKIFF_LOG(kDebug, "node %s subscribes to %s by name; served as wildcard",
                  tracker_->node().id(), name);
      }
    }
    subscribed_.insert(type_url);
    // What the proxy already holds (after a reconnect) is not resent; the first answer goes out
    // even when empty, so the proxy knows the type is complete.
    held_[type_url] = Versions(request.initial_resource_versions().begin(),
                               request.initial_resource_versions().end());
    if (!sendDiffLocked(type_url, /*removals=*/true)) sendDeltaLocked(type_url, {}, {});
  }

  bool pushChangesLocked() override {
    bool pushed = false;
    for (const std::string& type_url : kPushOrder) {
      if (subscribed_.count(type_url) == 0) continue;
      pushed |= sendDiffLocked(type_url, /*removals=*/!isReferencedType(type_url));
    }
    for (const std::string& type_url : {xds::kClusterType, xds::kEndpointType}) {
      if (subscribed_.count(type_url) == 0) continue;
      pushed |= sendDiffLocked(type_url, /*removals=*/true);
    }
    return pushed;
  }

  // Sends what differs from what the proxy holds (changed and, with `removals`, removed
  // resources). False when nothing differs.
  bool sendDiffLocked(const std::string& type_url, bool removals) {
    const ResourceMap& target = resources_->type(type_url).by_name;
    Versions& held = held_[type_url];
    std::vector<const discovery::v1::Resource*> changed;
    for (const auto& [name, resource] : target) {
      auto it = held.find(name);
      if (it == held.end() || it->second != resource.version()) changed.push_back(&resource);
    }
    std::vector<std::string> removed;
    if (removals) {
      for (const auto& [name, version] : held) {
        if (target.count(name) == 0) removed.push_back(name);
      }
    }
    if (changed.empty() && removed.empty()) return false;
    sendDeltaLocked(type_url, changed, removed);
    return true;
  }

  void sendDeltaLocked(const std::string& type_url,
                       const std::vector<const discovery::v1::Resource*>& changed,
                       const std::vector<std::string>& removed) {
    Versions& held = held_[type_url];
    DeltaDiscoveryResponse response;
    response.set_system_version_info(snapshot_->version());
    for (const discovery::v1::Resource* resource : changed) {
      *response.add_resources() = *resource;
      held[resource->name()] = resource->version();
    }
    for (const std::string& name : removed) {
      response.add_removed_resources(name);
      held.erase(name);
    }
    sendLocked(std::move(response), type_url, typeVersion(held), held.size());
  }

  // By type: the versions the proxy holds once it applies what was sent (NACKed content is
  // counted as held, so it is not resent until it changes).
  std::map<std::string, Versions> held_;
};

}  // namespace

DiscoveryServer::DiscoveryServer(std::shared_ptr<const MeshSnapshot> initial)
    : current_(std::move(initial)) {}

size_t DiscoveryServer::publish(std::shared_ptr<const MeshSnapshot> snapshot) {
  std::lock_guard<std::mutex> registry(registry_mutex_);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    current_ = snapshot;
  }
  size_t pushed = 0;
  for (ProxyStream* stream : streams_) {
    if (stream->push(snapshot)) ++pushed;
  }
  return pushed;
}

std::shared_ptr<const MeshSnapshot> DiscoveryServer::current() const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  return current_;
}

void DiscoveryServer::setMeshError(const std::string& error) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  mesh_error_ = error;
}

std::string DiscoveryServer::meshError() const {
  std::lock_guard<std::mutex> lock(state_mutex_);
  return mesh_error_;
}

std::vector<control::v1::ProxyStatus> DiscoveryServer::proxies() {
  std::vector<control::v1::ProxyStatus> out;
  {
    std::lock_guard<std::mutex> registry(registry_mutex_);
    for (ProxyStream* stream : streams_) {
      if (std::optional<control::v1::ProxyStatus> status = stream->status()) {
        out.push_back(std::move(*status));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.node().id() != b.node().id()) return a.node().id() < b.node().id();
    return a.connected_since() < b.connected_since();
  });
  return out;
}

std::optional<config::v1::Node> DiscoveryServer::connectedNode(const std::string& node_id) {
  for (const control::v1::ProxyStatus& proxy : proxies()) {
    if (proxy.node().id() == node_id) return proxy.node();
  }
  return std::nullopt;
}

void DiscoveryServer::attach(ProxyStream* stream) {
  std::lock_guard<std::mutex> registry(registry_mutex_);
  streams_.insert(stream);
}

void DiscoveryServer::detach(ProxyStream* stream) {
  std::lock_guard<std::mutex> registry(registry_mutex_);
  streams_.erase(stream);
}

grpc::ServerBidiReactor<DiscoveryRequest, DiscoveryResponse>*
DiscoveryServer::StreamAggregatedResources(grpc::CallbackServerContext* context) {
  return new SotwStream(*this, context);
}

grpc::ServerBidiReactor<DeltaDiscoveryRequest, DeltaDiscoveryResponse>*
DiscoveryServer::DeltaAggregatedResources(grpc::CallbackServerContext* context) {
  return new DeltaStream(*this, context);
}

}  // namespace skiff::control
