// Drives the discovery client's handling of control-plane responses: a DeltaDiscoveryResponse
// in protobuf text format (so the corpus stays readable; the expanded Any syntax carries the
// resources) is applied to a ResourceSet as delta, then again as state of the world, and the
// merged snapshot is built. Whatever arrives, a response is accepted or refused as a whole;
// a refused one must leave the held set untouched.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "skiff/discovery/v1/discovery.pb.h"
#include "xds/resource_set.h"

namespace skiff::xds {
namespace {

void check(bool condition) {
  if (!condition) abort();
}

std::vector<IncomingResource> incoming(const discovery::v1::DeltaDiscoveryResponse& response,
                                       bool named) {
  std::vector<IncomingResource> out;
  for (const auto& resource : response.resources()) {
    IncomingResource in;
    if (named) in.name = resource.name();
    in.version = resource.version();
    in.resource = resource.resource();
    out.push_back(std::move(in));
  }
  return out;
}

void apply(ResourceSet& set, const discovery::v1::DeltaDiscoveryResponse& response, bool delta) {
  std::vector<std::string> removed(response.removed_resources().begin(),
                                   response.removed_resources().end());
  auto before = set.versions(response.type_url());
  absl::Status status =
      set.update(response.type_url(), incoming(response, delta), removed, !delta);
  if (!status.ok()) check(set.versions(response.type_url()) == before);
  (void)set.snapshot({"static"}, {"static"});
}

}  // namespace
}  // namespace skiff::xds

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  skiff::discovery::v1::DeltaDiscoveryResponse response;
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  // Parse errors are the common case for mutated text; they are not interesting.
  static google::protobuf::io::ErrorCollector* silent = [] {
    struct Silent : google::protobuf::io::ErrorCollector {
      void AddError(int, int, const std::string&) override {}
    };
    return new Silent;
  }();
  parser.RecordErrorsTo(silent);
  if (!parser.ParseFromString(std::string(reinterpret_cast<const char*>(data), size), &response)) {
    return 0;
  }
  skiff::xds::ResourceSet set;
  skiff::xds::apply(set, response, true);
  skiff::xds::apply(set, response, false);
  return 0;
}
