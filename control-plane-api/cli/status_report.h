#pragma once

// Turns the status API's answers into what skiffctl prints: a table for people, the protobuf
// JSON mapping for scripts. Pure functions, so they are tested without a control plane.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "skiff/control/v1/status.pb.h"

namespace skiff::cli {

// Left-aligned columns separated by two spaces; rows[0] is the header.
std::string renderTable(const std::vector<std::vector<std::string>>& rows);

// "type.googleapis.com/skiff.config.v1.Listener" -> "Listener".
std::string shortTypeName(const std::string& type_url);

// The mesh version, the last mesh error, one row per proxy (acked version and NACK per type),
// then every NACK's error text in full.
std::string renderStatusText(const control::v1::ListProxiesResponse& status);

// Pretty-printed JSON with the .proto field names (the spelling the YAML configs use); Any
// fields are expanded through the generated pool, so the resource types must be linked in.
absl::StatusOr<std::string> messageToJson(const google::protobuf::Message& message);

// Makes sure every resource type skiff-control sends is registered in the generated pool: a
// static library's object file nobody references would otherwise be left out by the linker,
// and its Any could not be expanded.
void linkResourceTypes();

}  // namespace skiff::cli
