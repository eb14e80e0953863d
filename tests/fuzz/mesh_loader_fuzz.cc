// Drives skiff-control's mesh source: YAML files through parseMesh (schema, merge, semantic
// validation), then, for a mesh it accepts, the translation for every node. Checks the promises
// that make a mesh edit safe: a refusal is deterministic and names a file; every workload of an
// accepted mesh has a valid SPIFFE identity (the CA relies on the loader for that), and every
// identity a cluster accepts is one the CA issues; translation is deterministic and gives every
// type; and every proxy accepts what it is sent, i.e. each type, pushed in kPushOrder into a
// ResourceSet (the proxy's own decoding and validation, route tables compiled) is accepted and
// the merged snapshot builds. A mesh the control plane accepts but a proxy NACKs is a bug of the
// loader or the translator. (Proxies are checked per instance, and by workload name only for
// workloads without instances, to keep runs fast.)
//
// Input layout (YAML; see tests/fuzz/corpus/mesh): several files in one, each starting at a
// line "#--- NAME" (a YAML comment); text before the first such line is file "mesh/0.yaml".

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "ca/workload_identity.h"
#include "fuzz_check.h"
#include "mesh_loader.h"
#include "skiff/config/v1/cluster.pb.h"
#include "translator.h"
#include "xds/resource_set.h"

namespace skiff::control {
namespace {

std::vector<MeshSource> splitFiles(const std::string& input) {
  std::vector<MeshSource> sources = {{"mesh/0.yaml", ""}};
  for (absl::string_view line : absl::StrSplit(input, '\n')) {
    if (absl::ConsumePrefix(&line, "#--- ")) {
      sources.push_back({std::string(line), ""});
    } else {
      sources.back().yaml.append(line.data(), line.size()).push_back('\n');
    }
  }
  return sources;
}

// Every identity a cluster accepts from its hosts must be one the CA issues to a workload, or
// mutual TLS to them fails at run time.
void checkAllowedIdentities(const NodeResources& resources, const std::set<std::string>& issued) {
  for (const auto& [name, resource] : resources.type(xds::kClusterType).by_name) {
    config::v1::Cluster cluster;
    FUZZ_CHECK(resource.resource().UnpackTo(&cluster));
    for (const std::string& identity : cluster.tls().allowed_identities()) {
      if (issued.count(identity) == 0) {
        fprintf(stderr, "cluster %s accepts %s, which the CA issues to no workload\n", name.c_str(),
                identity.c_str());
        abort();
      }
    }
  }
}

// What one proxy does with its resources: the types in push order, as delta updates.
void proxyAccepts(const NodeResources& resources) {
  xds::ResourceSet set;
  for (const std::string& type_url : kPushOrder) {
    std::vector<xds::IncomingResource> incoming;
    for (const auto& [name, resource] : resources.type(type_url).by_name) {
      FUZZ_CHECK(resource.name() == name);
      FUZZ_CHECK(resource.resource().type_url() == type_url);
      xds::IncomingResource in;
      in.name = name;
      in.version = resource.version();
      in.resource = resource.resource();
      incoming.push_back(std::move(in));
    }
    absl::Status status = set.update(type_url, incoming, {}, /*replace_all=*/false);
    if (!status.ok()) {
      fprintf(stderr, "proxy NACKs the translation of an accepted mesh: %s\n",
              std::string(status.message()).c_str());
      abort();
    }
  }
  absl::StatusOr<xds::DynamicSnapshot> snapshot = set.snapshot({}, {});
  if (!snapshot.ok()) {
    fprintf(stderr, "proxy cannot build a snapshot of an accepted mesh: %s\n",
            std::string(snapshot.status().message()).c_str());
    abort();
  }
}

void checkNode(const mesh::v1::MeshFile& mesh, const config::v1::Node& node,
               const std::set<std::string>& issued) {
  NodeResources resources = translate(mesh, node);
  for (const std::string& type_url : kPushOrder) FUZZ_CHECK(resources.by_type.count(type_url) == 1);
  NodeResources again = translate(mesh, node);
  for (const std::string& type_url : kPushOrder) {
    FUZZ_CHECK(resources.type(type_url).version == again.type(type_url).version);
  }
  if (resources.workload.empty()) {
    for (const auto& [type_url, typed] : resources.by_type) FUZZ_CHECK(typed.by_name.empty());
    return;
  }
  checkAllowedIdentities(resources, issued);
  proxyAccepts(resources);
}

}  // namespace
}  // namespace skiff::control

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff;
  using namespace skiff::control;
  const std::vector<MeshSource> sources =
      splitFiles(std::string(reinterpret_cast<const char*>(data), size));
  absl::StatusOr<mesh::v1::MeshFile> mesh = parseMesh(sources);
  if (!mesh.ok()) {
    // The same refusal every time (skiffctl status shows it; it must not flap on reloads).
    absl::StatusOr<mesh::v1::MeshFile> again = parseMesh(sources);
    FUZZ_CHECK(!again.ok() && mesh.status().message() == again.status().message());
    bool names_a_file = false;
    for (const MeshSource& source : sources) {
      names_a_file |= absl::StartsWith(mesh.status().message(), source.file + ": ");
    }
    FUZZ_CHECK(names_a_file);
    return 0;
  }

  // What the CA issues to each workload; the loader promises every one is a valid identity.
  std::set<std::string> issued;
  for (const mesh::v1::Workload& workload : mesh->workloads()) {
    absl::StatusOr<std::string> identity = ca::workloadSpiffeId(*mesh, workload.name());
    if (!identity.ok()) {
      fprintf(stderr, "accepted mesh, but no identity: %s\n",
              std::string(identity.status().message()).c_str());
      abort();
    }
    issued.insert(*identity);
  }
  for (const mesh::v1::Workload& workload : mesh->workloads()) {
    // A proxy names its instance (node id) or, without one, only its workload.
    if (workload.instances().empty()) {
      config::v1::Node by_workload;
      by_workload.set_workload(workload.name());
      checkNode(*mesh, by_workload, issued);
    }
    for (const mesh::v1::Instance& instance : workload.instances()) {
      config::v1::Node node;
      node.set_id(instance.node());
      checkNode(*mesh, node, issued);
    }
  }
  config::v1::Node stranger;
  stranger.set_id("not-in-the-mesh");
  checkNode(*mesh, stranger, issued);
  return 0;
}
