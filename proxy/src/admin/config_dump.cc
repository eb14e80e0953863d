#include "admin/config_dump.h"

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace skiff::admin {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// A message as a Struct value, through the same JSON mapping the config files use.
Value toValue(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, print);
  Value value;
  (void)google::protobuf::util::JsonStringToMessage(json, value.mutable_struct_value());
  return value;
}

template <class Map>
Value listOf(const Map& resources) {
  Value value;
  auto* list = value.mutable_list_value();
  for (const auto& [name, resource] : resources) *list->add_values() = toValue(resource);
  return value;
}

}  // namespace

std::string renderConfigDump(const config::v1::Bootstrap& bootstrap,
                             const xds::DynamicSnapshot* dynamic,
                             const std::set<std::string>& warming_listeners) {
  Struct root = toValue(bootstrap).struct_value();
  if (dynamic != nullptr) {
    Struct active;
    auto& fields = *active.mutable_fields();
    auto* versions = fields["versions"].mutable_struct_value()->mutable_fields();
    for (const auto& [type, version] : dynamic->versions) {
      (*versions)[type].set_string_value(version);
    }
    fields["listeners"] = listOf(dynamic->listeners);
    fields["route_configs"] = listOf(dynamic->routes);
    fields["clusters"] = listOf(dynamic->clusters);
    auto* warming = fields["warming_listeners"].mutable_list_value();
    for (const auto& name : warming_listeners) warming->add_values()->set_string_value(name);
    *(*root.mutable_fields())["dynamic_active_resources"].mutable_struct_value() =
        std::move(active);
  }
  return toJson(root) + "\n";
}

std::string toJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

}  // namespace skiff::admin
