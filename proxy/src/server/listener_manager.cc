#include "server/listener_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "google/protobuf/util/message_differencer.h"

namespace skiff::server {
namespace {

// The configured address (not the bound one): port 0 means "any", which never collides.
std::string configuredAddress(const config::v1::Listener& listener) {
  return absl::StrCat(listener.address().address(), ":", listener.address().port());
}

bool sameAddress(const config::v1::Listener& a, const config::v1::Listener& b) {
  return configuredAddress(a) == configuredAddress(b);
}

bool isWarming(const config::v1::Listener& listener, const ListenerManager::HasRoutes& has_routes) {
  return listener.has_http() && listener.http().has_rds() &&
         !has_routes(listener.http().rds().route_config_name());
}

}  // namespace

ListenerManager::ListenerManager(stats::Registry& registry, int workers)
    : registry_(registry), workers_(workers) {}

http::ListenerStats* ListenerManager::statsFor(const std::string& name) {
  auto& stats = stats_[name];
  if (!stats) {
    stats = std::make_unique<http::ListenerStats>(http::ListenerStats::create(registry_, name));
  }
  return stats.get();
}

absl::StatusOr<ListenerSettingsConstSharedPtr> ListenerManager::build(
    const config::v1::Listener& listener) {
  auto settings = buildListenerSettings(listener, statsFor(listener.name()), sinks_);
  if (!settings.ok() || !listener.has_tls()) return settings;
  auto with_tls = std::make_shared<ListenerSettings>(**settings);
  with_tls->tls = std::make_shared<const tls::DownstreamTlsSettings>(listener, registry_);
  return ListenerSettingsConstSharedPtr(std::move(with_tls));
}

absl::StatusOr<std::vector<net::ListenSocket>> ListenerManager::bind(
    const config::v1::Listener& listener) {
  auto address = net::parseIpAndPort(listener.address().address(),
                                     static_cast<uint16_t>(listener.address().port()));
  if (!address.ok()) return address.status();
  return net::bindReusePortSockets(*address, workers_);
}

absl::StatusOr<std::vector<std::vector<WorkerListener>>> ListenerManager::bindStatic(
    const google::protobuf::RepeatedPtrField<config::v1::Listener>& listeners) {
  std::vector<std::vector<WorkerListener>> per_worker(workers_);
  for (const auto& listener : listeners) {
    auto settings = build(listener);
    if (!settings.ok()) return settings.status();
    auto sockets = bind(listener);
    if (!sockets.ok()) {
      return absl::UnavailableError(
          absl::StrCat("listener ", listener.name(), ": ", sockets.status().message()));
    }
    net::SocketAddress bound = (*sockets)[0].boundAddress();
    SKIFF_LOG(kInfo, "listener %s on %s (%s)", listener.name(), bound.toString(),
              (*settings)->http ? "http" : "tcp");
    for (int i = 0; i < workers_; ++i) {
      per_worker[i].push_back(
          {*settings, std::make_unique<net::ListenSocket>(std::move((*sockets)[i]))});
    }
    active_[listener.name()] = Active{listener, *settings, bound, false};
    static_order_.push_back(listener.name());
  }
  return per_worker;
}

absl::StatusOr<ListenerManager::DynamicPlan> ListenerManager::prepareDynamic(
    const std::map<std::string, config::v1::Listener>& listeners, const HasRoutes& has_routes) {
  using google::protobuf::util::MessageDifferencer;
  DynamicPlan plan;
  // First the set that will be live afterwards, so that address clashes are found before any
  // socket is bound. A warming listener keeps its active version (if any) until it is ready.
  std::map<std::string, const config::v1::Listener*> live;
  for (const auto& [name, active] : active_) {
    if (!active.dynamic) live[name] = &active.config;
  }
  for (const auto& [name, listener] : listeners) {
    if (isStatic(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("listener ", name, ": name is used by a static listener"));
    }
    if (isWarming(listener, has_routes)) {
      plan.warming.insert(name);
      auto current = active_.find(name);
      if (current != active_.end()) live[name] = &current->second.config;
      continue;
    }
    live[name] = &listener;
  }
  std::map<std::string, std::string> owners;  // configured address -> listener
  for (const auto& [name, listener] : live) {
    if (listener->address().port() == 0) continue;
    auto [it, inserted] = owners.emplace(configuredAddress(*listener), name);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("listener ", name, ": address ", it->first,
                                                     " is used by listener ", it->second));
    }
  }

  for (const auto& [name, active] : active_) {
    if (active.dynamic && !live.count(name)) {
      plan.changes.push_back({DynamicPlan::Kind::kRemove, name, {}, nullptr, {}});
    }
  }
  for (const auto& [name, listener] : live) {
    auto current = active_.find(name);
    if (current != active_.end() &&
        (!current->second.dynamic || &current->second.config == listener ||
         MessageDifferencer::Equals(current->second.config, *listener))) {
      continue;  // static, kept while warming, or unchanged
    }
    auto settings = build(*listener);
    if (!settings.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("listener ", name, ": ", settings.status().message()));
    }
    if (current != active_.end() && sameAddress(current->second.config, *listener)) {
      plan.changes.push_back({DynamicPlan::Kind::kUpdate, name, *listener, *settings, {}});
      continue;
    }
    if (current != active_.end()) {
      plan.changes.push_back({DynamicPlan::Kind::kRemove, name, {}, nullptr, {}});
    }
    auto sockets = bind(*listener);
    if (!sockets.ok()) {
      // Sockets bound for earlier changes close as `plan` goes out of scope.
      return absl::UnavailableError(
          absl::StrCat("listener ", name, ": ", sockets.status().message()));
    }
    plan.changes.push_back(
        {DynamicPlan::Kind::kAdd, name, *listener, *settings, std::move(*sockets)});
  }
  std::stable_sort(plan.changes.begin(), plan.changes.end(),
                   [](const auto& a, const auto& b) { return a.kind < b.kind; });
  return plan;
}

void ListenerManager::commitDynamic(DynamicPlan plan, const std::vector<Worker*>& workers) {
  for (auto& change : plan.changes) {
    switch (change.kind) {
      case DynamicPlan::Kind::kRemove:
        SKIFF_LOG(kInfo, "listener %s removed: draining", change.name);
        for (Worker* worker : workers) worker->removeListener(change.name);
        active_.erase(change.name);
        break;
      case DynamicPlan::Kind::kUpdate: {
        SKIFF_LOG(kInfo, "listener %s updated", change.name);
        for (Worker* worker : workers) worker->updateListener(change.settings);
        Active& active = active_.at(change.name);
        active.config = std::move(change.config);
        active.settings = std::move(change.settings);
        break;
      }
      case DynamicPlan::Kind::kAdd: {
        net::SocketAddress bound = change.sockets[0].boundAddress();
        SKIFF_LOG(kInfo, "listener %s on %s (%s)", change.name, bound.toString(),
                  change.settings->http ? "http" : "tcp");
        for (size_t i = 0; i < workers.size() && i < change.sockets.size(); ++i) {
          workers[i]->addListener(
              {change.settings, std::make_unique<net::ListenSocket>(std::move(change.sockets[i]))});
        }
        active_[change.name] = Active{std::move(change.config), change.settings, bound, true};
        break;
      }
    }
  }
  for (const auto& name : plan.warming) {
    if (!warming_.count(name)) SKIFF_LOG(kInfo, "listener %s warming: waiting for routes", name);
  }
  warming_ = std::move(plan.warming);
}

std::vector<ListenerManager::ListenerState> ListenerManager::listeners() const {
  std::vector<ListenerState> out;
  for (const auto& name : static_order_) out.push_back({name, active_.at(name).bound, false});
  for (const auto& [name, active] : active_) {
    if (active.dynamic) out.push_back({name, active.bound, true});
  }
  return out;
}

bool ListenerManager::isStatic(const std::string& name) const {
  auto it = active_.find(name);
  return it != active_.end() && !it->second.dynamic;
}

}  // namespace skiff::server
