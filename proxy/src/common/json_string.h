#pragma once

// JSON string literals for the text we write ourselves (access log lines, the YAML-to-JSON
// bridge of the config loader). Parsing JSON is protobuf's job, not ours.

#include <string>

#include "absl/strings/string_view.h"

namespace skiff {

// Appends `value` as a quoted JSON string. Valid UTF-8 passes through; each byte of invalid
// UTF-8 becomes U+FFFD, so no input can make the output invalid JSON.
void appendJsonString(std::string& out, absl::string_view value);

}  // namespace skiff
