// YAML -> protobuf. yaml-cpp parses; a walk over the YAML tree alongside the message descriptor
// checks every key, type, enum name, integer range and duration and writes JSON; protobuf's own
// JSON parser then does the conversion, so YAML and xDS (JSON/binary) share one mapping. The walk
// exists because protobuf's errors do not say where in the document the problem is.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_string.h"
#include "config/bootstrap_loader.h"
#include "config/field_checks.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace skiff::config {
namespace {

namespace pb = google::protobuf;

// Far deeper than any real configuration; bounds recursion through google.protobuf.Struct.
constexpr int kMaxDepth = 64;
// YAML aliases can make a small file expand exponentially ("billion laughs").
constexpr size_t kMaxNodes = 1000000;

std::string fieldPath(const std::string& parent, absl::string_view name) {
  return parent.empty() ? std::string(name) : absl::StrCat(parent, ".", name);
}

std::string indexPath(const std::string& parent, size_t index) {
  return absl::StrCat(parent, "[", index, "]");
}

std::string keyPath(const std::string& parent, absl::string_view key) {
  return absl::StrCat(parent, "[\"", key, "\"]");
}

absl::Status errorAt(const std::string& path, absl::string_view reason) {
  if (path.empty()) return absl::InvalidArgumentError(std::string(reason));
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", reason));
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar: {
      std::string text = node.Scalar();
      if (text.size() > 60) text = absl::StrCat(text.substr(0, 57), "...");
      return absl::StrFormat("\"%s\"", absl::Utf8SafeCHexEscape(text));
    }
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined value";
}

// yaml-cpp tags plain scalars "?" and quoted ones "!"; an explicit !!str also means text.
bool isQuoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

void appendJsonString(absl::string_view text, std::string& out) {
  skiff::appendJsonString(out, text);
}

bool isWrapperType(const pb::Descriptor& type) {
  static const std::set<std::string> kWrappers = {
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
  return kWrappers.count(type.full_name()) > 0;
}

// Types whose JSON form is not an object of their fields.
bool hasSpecialJson(const pb::Descriptor& type) {
  const std::string& name = type.full_name();
  return name == "google.protobuf.Duration" || name == "google.protobuf.Timestamp" ||
         name == "google.protobuf.FieldMask" || name == "google.protobuf.Struct" ||
         name == "google.protobuf.Value" || name == "google.protobuf.ListValue" ||
         name == "google.protobuf.Any" || isWrapperType(type);
}

const pb::FieldDescriptor* findField(const pb::Descriptor& type, absl::string_view key) {
  for (int i = 0; i < type.field_count(); ++i) {
    const pb::FieldDescriptor* field = type.field(i);
    if (key == field->name() || key == field->json_name()) return field;
  }
  return nullptr;
}

std::string unknownFieldReason(const pb::Descriptor& type, absl::string_view key) {
  const std::string lowered = absl::AsciiStrToLower(key);
  const int cap = key.size() <= 3 ? 1 : 2;
  const pb::FieldDescriptor* best = nullptr;
  int best_distance = cap + 1;
  for (int i = 0; i < type.field_count(); ++i) {
    const pb::FieldDescriptor* field = type.field(i);
    for (const std::string& name : {field->name(), absl::AsciiStrToLower(field->json_name())}) {
      const int distance = internal::editDistance(lowered, name, cap);
      if (distance < best_distance) {
        best_distance = distance;
        best = field;
      }
    }
  }
  if (best == nullptr) return "unknown field";
  return absl::StrFormat("unknown field (did you mean \"%s\"?)", best->name());
}

std::string enumChoices(const pb::EnumDescriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.value_count(); ++i) names.push_back(type.value(i)->name());
  return absl::StrJoin(names, ", ");
}

std::string expectedKind(const pb::FieldDescriptor& field) {
  switch (field.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return field.type() == pb::FieldDescriptor::TYPE_BYTES ? "base64 text" : "a string";
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_UINT32:
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return "an integer";
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return "a number";
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return absl::StrCat("one of ", enumChoices(*field.enum_type()));
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return "a map of fields";
  }
  return "a value";
}

// YAML 1.2 core schema booleans (no yes/no/on/off, which YAML 1.1 made a famous trap).
bool parseBool(absl::string_view text, bool* value) {
  if (text == "true" || text == "True" || text == "TRUE") {
    *value = true;
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    *value = false;
    return true;
  }
  return false;
}

bool allDigits(absl::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Checks an integer for the field's type; *json receives its canonical decimal form.
std::string checkInteger(absl::string_view text, pb::FieldDescriptor::CppType type,
                         std::string* json) {
  const bool negative = absl::StartsWith(text, "-");
  absl::string_view digits = text;
  if (negative || absl::StartsWith(text, "+")) digits.remove_prefix(1);
  if (!allDigits(digits)) return absl::StrFormat("invalid integer \"%s\"", text);

  const bool is_unsigned =
      type == pb::FieldDescriptor::CPPTYPE_UINT32 || type == pb::FieldDescriptor::CPPTYPE_UINT64;
  const bool is_32 =
      type == pb::FieldDescriptor::CPPTYPE_INT32 || type == pb::FieldDescriptor::CPPTYPE_UINT32;
  uint64_t magnitude = 0;
  const bool fits_64 = absl::SimpleAtoi(digits, &magnitude);
  if (negative && magnitude != 0) {
    if (is_unsigned) return absl::StrFormat("invalid value %s (must not be negative)", text);
    const uint64_t limit = is_32 ? uint64_t{1} << 31 : uint64_t{1} << 63;
    if (!fits_64 || magnitude > limit) {
      return absl::StrFormat("value %s is out of range (at least -%d)", text, limit);
    }
    *json = absl::StrCat("-", magnitude);
    return "";
  }
  uint64_t limit = std::numeric_limits<uint64_t>::max();
  if (type == pb::FieldDescriptor::CPPTYPE_INT32) limit = std::numeric_limits<int32_t>::max();
  if (type == pb::FieldDescriptor::CPPTYPE_UINT32) limit = std::numeric_limits<uint32_t>::max();
  if (type == pb::FieldDescriptor::CPPTYPE_INT64) limit = std::numeric_limits<int64_t>::max();
  if (!fits_64 || magnitude > limit) {
    return absl::StrFormat("value %s is out of range (at most %d)", text, limit);
  }
  *json = absl::StrCat(magnitude);
  return "";
}

std::string checkFloat(absl::string_view text, bool is_float, std::string* json) {
  static const std::map<std::string, std::string> kSpecial = {
      {".inf", "\"Infinity\""},   {".Inf", "\"Infinity\""},   {".INF", "\"Infinity\""},
      {"+.inf", "\"Infinity\""},  {"+.Inf", "\"Infinity\""},  {"+.INF", "\"Infinity\""},
      {"-.inf", "\"-Infinity\""}, {"-.Inf", "\"-Infinity\""}, {"-.INF", "\"-Infinity\""},
      {".nan", "\"NaN\""},        {".NaN", "\"NaN\""},        {".NAN", "\"NaN\""}};
  if (auto it = kSpecial.find(std::string(text)); it != kSpecial.end()) {
    *json = it->second;
    return "";
  }
  // Digits with an optional sign, fraction and exponent: what YAML and JSON agree is a number.
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  size_t mantissa_digits = 0;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
    ++i;
    ++mantissa_digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      ++mantissa_digits;
    }
  }
  bool ok = mantissa_digits > 0;
  if (ok && i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    ok = i < text.size();
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
  }
  double value = 0;
  if (!ok || i != text.size() || !absl::SimpleAtod(text, &value) || !std::isfinite(value)) {
    return absl::StrFormat("invalid number \"%s\"", text);
  }
  if (is_float && std::fabs(value) > FLT_MAX) {
    return absl::StrFormat("value %s is out of range for a float", text);
  }
  *json = absl::StrFormat("%.17g", value);
  return "";
}

// Writes the JSON a YAML tree stands for, checking it against the message descriptor first.
class YamlToJson {
 public:
  absl::Status message(const YAML::Node& node, const pb::Descriptor& type, const std::string& path,
                       int depth, std::string& out) {
    if (++depth > kMaxDepth) return errorAt(path, "nested too deeply");
    if (++nodes_ > kMaxNodes) return errorAt(path, "configuration too large");
    if (hasSpecialJson(type)) return specialMessage(node, type, path, depth, out);
    if (node.IsNull()) {
      out += "{}";
      return absl::OkStatus();
    }
    if (!node.IsMap()) {
      return errorAt(path, absl::StrCat("expected a map of fields, got ", describe(node)));
    }
    std::map<const pb::FieldDescriptor*, std::string> seen;
    std::map<const pb::OneofDescriptor*, const pb::FieldDescriptor*> oneof_chosen;
    out.push_back('{');
    bool first = true;
    for (const auto& entry : node) {
      const pb::FieldDescriptor* field = nullptr;
      std::string value_json;
      if (absl::Status status =
              this->entry(entry.first, entry.second, type, path, depth, &field, value_json);
          !status.ok()) {
        return status;
      }
      const std::string child = fieldPath(path, field->name());
      const std::string key = entry.first.Scalar();
      if (auto [it, inserted] = seen.emplace(field, key); !inserted) {
        if (it->second == key) return errorAt(child, "set more than once");
        return errorAt(
            child, absl::StrFormat("set more than once (as \"%s\" and \"%s\")", it->second, key));
      }
      if (value_json.empty()) continue;  // null: the field keeps its default
      if (const pb::OneofDescriptor* oneof = field->containing_oneof()) {
        auto [it, inserted] = oneof_chosen.emplace(oneof, field);
        if (!inserted) {
          std::vector<std::string> names;
          for (int i = 0; i < oneof->field_count(); ++i) names.push_back(oneof->field(i)->name());
          return errorAt(child, absl::StrFormat("conflicts with \"%s\" (only one of %s may be set)",
                                                it->second->name(), absl::StrJoin(names, ", ")));
        }
      }
      if (!first) out.push_back(',');
      first = false;
      appendJsonString(field->name(), out);
      out.push_back(':');
      out += value_json;
    }
    out.push_back('}');
    return absl::OkStatus();
  }

  // One "key: value" of a message. Leaves *json empty when the value is null and the field
  // should keep its default.
  absl::Status entry(const YAML::Node& key_node, const YAML::Node& value,
                     const pb::Descriptor& type, const std::string& path, int depth,
                     const pb::FieldDescriptor** field_out, std::string& json) {
    if (!key_node.IsScalar()) {
      return errorAt(path,
                     absl::StrCat("a field name must be a plain word, got ", describe(key_node)));
    }
    const std::string& key = key_node.Scalar();
    const pb::FieldDescriptor* field = findField(type, key);
    if (field == nullptr) return errorAt(fieldPath(path, key), unknownFieldReason(type, key));
    *field_out = field;
    const std::string child = fieldPath(path, field->name());
    if (value.IsNull() && !keepsNull(*field)) return absl::OkStatus();
    if (field->is_map()) return mapField(value, *field, child, depth, json);
    if (field->is_repeated()) return repeatedField(value, *field, child, depth, json);
    return singular(value, *field, child, depth, json);
  }

 private:
  // A null singular message still selects it (e.g. "tcp_proxy:" with every field defaulted),
  // except for types whose JSON null means "unset".
  static bool keepsNull(const pb::FieldDescriptor& field) {
    if (field.is_repeated() || field.cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return false;
    }
    const pb::Descriptor& type = *field.message_type();
    return !hasSpecialJson(type) || type.full_name() == "google.protobuf.Value";
  }

  absl::Status repeatedField(const YAML::Node& node, const pb::FieldDescriptor& field,
                             const std::string& path, int depth, std::string& out) {
    if (!node.IsSequence()) {
      return errorAt(path,
                     absl::StrCat("expected a sequence (a list of items), got ", describe(node)));
    }
    out.push_back('[');
    for (size_t i = 0; i < node.size(); ++i) {
      if (i > 0) out.push_back(',');
      const YAML::Node element = node[i];
      const std::string child = indexPath(path, i);
      if (element.IsNull() && !keepsNull(field)) {
        return errorAt(child, absl::StrCat("expected ", expectedKind(field), ", got nothing"));
      }
      if (absl::Status status = singular(element, field, child, depth, out); !status.ok()) {
        return status;
      }
    }
    out.push_back(']');
    return absl::OkStatus();
  }

  absl::Status mapField(const YAML::Node& node, const pb::FieldDescriptor& field,
                        const std::string& path, int depth, std::string& out) {
    if (!node.IsMap()) return errorAt(path, absl::StrCat("expected a map, got ", describe(node)));
    const pb::FieldDescriptor& key_field = *field.message_type()->map_key();
    const pb::FieldDescriptor& value_field = *field.message_type()->map_value();
    std::set<std::string> keys;
    out.push_back('{');
    bool first = true;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        return errorAt(path,
                       absl::StrCat("a map key must be a scalar, got ", describe(entry.first)));
      }
      std::string key = entry.first.Scalar();
      const std::string child = keyPath(path, key);
      if (key_field.cpp_type() == pb::FieldDescriptor::CPPTYPE_BOOL) {
        bool value;
        if (!parseBool(key, &value)) return errorAt(child, "map key must be true or false");
        key = value ? "true" : "false";
      } else if (key_field.cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
        std::string canonical;
        if (std::string reason = checkInteger(key, key_field.cpp_type(), &canonical);
            !reason.empty()) {
          return errorAt(child, reason);
        }
        key = canonical;
      } else if (!internal::isValidUtf8(key)) {
        return errorAt(child, "map key is not valid UTF-8");
      }
      if (!keys.insert(key).second) return errorAt(child, "duplicate map key");
      if (!first) out.push_back(',');
      first = false;
      appendJsonString(key, out);
      out.push_back(':');
      if (entry.second.IsNull() && !keepsNull(value_field)) {
        return errorAt(child,
                       absl::StrCat("expected ", expectedKind(value_field), ", got nothing"));
      }
      if (absl::Status status = singular(entry.second, value_field, child, depth, out);
          !status.ok()) {
        return status;
      }
    }
    out.push_back('}');
    return absl::OkStatus();
  }

  absl::Status singular(const YAML::Node& node, const pb::FieldDescriptor& field,
                        const std::string& path, int depth, std::string& out) {
    if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return message(node, *field.message_type(), path, depth, out);
    }
    if (++nodes_ > kMaxNodes) return errorAt(path, "configuration too large");
    if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM &&
        field.enum_type()->full_name() == "google.protobuf.NullValue" && node.IsNull()) {
      out += "null";
      return absl::OkStatus();
    }
    if (!node.IsScalar()) {
      return errorAt(path,
                     absl::StrCat("expected ", expectedKind(field), ", got ", describe(node)));
    }
    const std::string& text = node.Scalar();
    std::string json;
    std::string reason;
    switch (field.cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        if (field.type() == pb::FieldDescriptor::TYPE_BYTES) {
          std::string decoded;
          if (!absl::Base64Unescape(text, &decoded) &&
              !absl::WebSafeBase64Unescape(text, &decoded)) {
            return errorAt(path, "invalid base64");
          }
        } else if (!internal::isValidUtf8(text)) {
          return errorAt(path, "not valid UTF-8");
        }
        appendJsonString(text, out);
        return absl::OkStatus();
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        bool value;
        if (!parseBool(text, &value)) {
          return errorAt(path, absl::StrFormat("invalid boolean \"%s\" (expected true or false)",
                                               absl::Utf8SafeCHexEscape(text)));
        }
        out += value ? "true" : "false";
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_INT32:
      case pb::FieldDescriptor::CPPTYPE_INT64:
      case pb::FieldDescriptor::CPPTYPE_UINT32:
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        reason = checkInteger(text, field.cpp_type(), &json);
        break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        reason = checkFloat(text, field.cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT, &json);
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        if (field.enum_type()->FindValueByName(text) == nullptr) {
          reason = absl::StrFormat("unknown value \"%s\" (expected one of %s)",
                                   absl::Utf8SafeCHexEscape(text), enumChoices(*field.enum_type()));
        } else {
          appendJsonString(text, json);
        }
        break;
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        break;  // handled above
    }
    if (!reason.empty()) return errorAt(path, reason);
    out += json;
    return absl::OkStatus();
  }

  absl::Status specialMessage(const YAML::Node& node, const pb::Descriptor& type,
                              const std::string& path, int depth, std::string& out) {
    const std::string& name = type.full_name();
    if (name == "google.protobuf.Value") return value(node, path, depth, out);
    if (name == "google.protobuf.Struct") {
      if (!node.IsMap()) return errorAt(path, absl::StrCat("expected a map, got ", describe(node)));
      return value(node, path, depth, out);
    }
    if (name == "google.protobuf.ListValue") {
      if (!node.IsSequence()) {
        return errorAt(path, absl::StrCat("expected a sequence, got ", describe(node)));
      }
      return value(node, path, depth, out);
    }
    if (name == "google.protobuf.Any") {
      return errorAt(path, "google.protobuf.Any is not supported in YAML configuration");
    }
    if (isWrapperType(type)) return singular(node, *type.field(0), path, depth, out);
    // Duration, Timestamp, FieldMask: a string in JSON.
    if (!node.IsScalar()) {
      return errorAt(path,
                     absl::StrCat("expected a ", type.name(), " string, got ", describe(node)));
    }
    const std::string& text = node.Scalar();
    if (name == "google.protobuf.Duration") {
      if (std::string reason = internal::checkDurationString(text); !reason.empty()) {
        return errorAt(path, reason);
      }
    } else if (!internal::isValidUtf8(text)) {
      return errorAt(path, "not valid UTF-8");
    }
    appendJsonString(text, out);
    return absl::OkStatus();
  }

  // google.protobuf.Value: the JSON type follows the YAML, quoted scalars are always strings.
  absl::Status value(const YAML::Node& node, const std::string& path, int depth, std::string& out) {
    if (++depth > kMaxDepth) return errorAt(path, "nested too deeply");
    if (++nodes_ > kMaxNodes) return errorAt(path, "configuration too large");
    if (node.IsNull()) {
      out += "null";
    } else if (node.IsMap()) {
      out.push_back('{');
      std::set<std::string> keys;
      bool first = true;
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return errorAt(path,
                         absl::StrCat("a map key must be a scalar, got ", describe(entry.first)));
        }
        const std::string& key = entry.first.Scalar();
        if (!keys.insert(key).second) return errorAt(keyPath(path, key), "duplicate map key");
        if (!first) out.push_back(',');
        first = false;
        appendJsonString(key, out);
        out.push_back(':');
        if (absl::Status status = value(entry.second, keyPath(path, key), depth, out);
            !status.ok()) {
          return status;
        }
      }
      out.push_back('}');
    } else if (node.IsSequence()) {
      out.push_back('[');
      for (size_t i = 0; i < node.size(); ++i) {
        if (i > 0) out.push_back(',');
        if (absl::Status status = value(node[i], indexPath(path, i), depth, out); !status.ok()) {
          return status;
        }
      }
      out.push_back(']');
    } else {
      const std::string& text = node.Scalar();
      bool flag;
      std::string number;
      if (!internal::isValidUtf8(text)) return errorAt(path, "not valid UTF-8");
      if (isQuoted(node)) {
        appendJsonString(text, out);
      } else if (parseBool(text, &flag)) {
        out += flag ? "true" : "false";
      } else if (checkFloat(text, false, &number).empty() && !absl::StartsWith(number, "\"")) {
        out += number;
      } else {
        appendJsonString(text, out);
      }
    }
    return absl::OkStatus();
  }

  size_t nodes_ = 0;
};

// protobuf prefixes its messages with its own idea of the location, e.g. "(at): ...".
std::string protobufReason(pb::StringPiece message) {
  absl::string_view text(message.data(), message.size());
  if (absl::StartsWith(text, "(")) {
    if (size_t end = text.find("): "); end != absl::string_view::npos) text.remove_prefix(end + 3);
  }
  return std::string(text);
}

// protobuf's JSON parser rejected what the walk accepted (e.g. a malformed Timestamp). Its
// message does not say where, so parse field by field, descending into messages, to find out.
// Returns OK when no single field fails on its own.
absl::Status locateJsonError(const YAML::Node& node, const pb::Message& prototype,
                             const std::string& path) {
  if (!node.IsMap()) return absl::OkStatus();
  const pb::Descriptor& type = *prototype.GetDescriptor();
  for (const auto& entry : node) {
    YamlToJson converter;
    const pb::FieldDescriptor* field = nullptr;
    std::string value_json;
    if (!converter.entry(entry.first, entry.second, type, path, 0, &field, value_json).ok() ||
        value_json.empty()) {
      continue;
    }
    std::string json = "{";
    appendJsonString(field->name(), json);
    absl::StrAppend(&json, ":", value_json, "}");
    std::unique_ptr<pb::Message> probe(prototype.New());
    const auto status = pb::util::JsonStringToMessage(json, probe.get());
    if (status.ok()) continue;

    const std::string child = fieldPath(path, field->name());
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !field->is_map() &&
        !hasSpecialJson(*field->message_type())) {
      const pb::Message* child_prototype =
          prototype.GetReflection()->GetMessageFactory()->GetPrototype(field->message_type());
      if (field->is_repeated() && entry.second.IsSequence()) {
        for (size_t i = 0; i < entry.second.size(); ++i) {
          absl::Status found =
              locateJsonError(entry.second[i], *child_prototype, indexPath(child, i));
          if (!found.ok()) return found;
        }
      } else if (!field->is_repeated()) {
        absl::Status found = locateJsonError(entry.second, *child_prototype, child);
        if (!found.ok()) return found;
      }
    }
    return errorAt(child, protobufReason(status.message()));
  }
  return absl::OkStatus();
}

// A first pass over the parser's events: it bounds the work, and finds what follows the first
// document. LoadAll() cannot be used for that: on a stray "," outside a flow collection yaml-cpp
// 0.7 never consumes the token and returns empty documents forever.
class DocumentScan : public YAML::EventHandler {
 public:
  YAML::Mark start;

  void OnDocumentStart(const YAML::Mark& mark) override {
    start = mark;
    count(mark);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    count(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnMapEnd() override {}

 private:
  void count(const YAML::Mark& mark) {
    if (++events_ > kMaxNodes) throw YAML::ParserException(mark, "configuration too large");
  }
  size_t events_ = 0;
};

// Fails unless the text holds exactly one document.
absl::Status checkSingleDocument(const std::string& yaml_text) {
  std::istringstream stream(yaml_text);
  YAML::Parser parser(stream);
  DocumentScan first;
  if (!parser.HandleNextDocument(first)) {
    return absl::InvalidArgumentError("the configuration is empty (expected a map of fields)");
  }
  DocumentScan second;
  if (!parser.HandleNextDocument(second)) return absl::OkStatus();
  const YAML::Mark& mark = second.start;
  const size_t pos = mark.pos < 0 ? yaml_text.size() : static_cast<size_t>(mark.pos);
  if (yaml_text.compare(pos, 3, "---") == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "line %d: a second YAML document (\"---\"); a configuration is one document",
        mark.line + 1));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("line %d, column %d: invalid YAML: unexpected \"%s\"", mark.line + 1,
                      mark.column + 1, absl::Utf8SafeCHexEscape(yaml_text.substr(pos, 1))));
}

absl::Status yamlToMessageUnguarded(const std::string& yaml_text, pb::Message& out) {
  if (absl::Status status = checkSingleDocument(yaml_text); !status.ok()) return status;
  const YAML::Node root = YAML::Load(yaml_text);
  if (root.IsNull()) {
    return absl::InvalidArgumentError("the configuration is empty (expected a map of fields)");
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the top level must be a map of fields, got ", describe(root)));
  }
  std::string json;
  YamlToJson converter;
  if (absl::Status status = converter.message(root, *out.GetDescriptor(), "", 0, json);
      !status.ok()) {
    return status;
  }
  out.Clear();
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = pb::util::JsonStringToMessage(json, &out, options);
  if (status.ok()) return absl::OkStatus();
  out.Clear();
  if (absl::Status located = locateJsonError(root, out, ""); !located.ok()) return located;
  return absl::InvalidArgumentError(protobufReason(status.message()));
}

// yaml-cpp's message for a tab in the indentation ("illegal map value") does not say why.
std::string syntaxError(const std::string& yaml_text, const YAML::Mark& mark,
                        const std::string& message) {
  std::string text = absl::StrFormat("line %d, column %d: invalid YAML: %s", mark.line + 1,
                                     mark.column + 1, message);
  const std::vector<absl::string_view> lines = absl::StrSplit(yaml_text, '\n');
  for (int line = std::max(0, mark.line - 1); line <= mark.line; ++line) {
    if (line < static_cast<int>(lines.size()) && absl::StartsWith(lines[line], "\t")) {
      absl::StrAppend(&text, " (YAML does not allow tabs for indentation)");
      break;
    }
  }
  return text;
}

}  // namespace

absl::Status yamlToMessage(const std::string& yaml_text, pb::Message& out) {
  // yaml-cpp reports syntax errors (and a few access errors) by throwing; nothing past here may.
  try {
    return yamlToMessageUnguarded(yaml_text, out);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(absl::StrCat("invalid YAML: ", e.msg));
    return absl::InvalidArgumentError(syntaxError(yaml_text, e.mark, e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read the configuration: ", e.what()));
  } catch (...) {
    return absl::InvalidArgumentError("cannot read the configuration");
  }
}

}  // namespace skiff::config
