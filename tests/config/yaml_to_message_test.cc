// YAML -> protobuf conversion: types, the JSON mapping's corner cases, and errors that name the
// path of the bad field.

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "config/bootstrap_loader.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace skiff::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Conversion only (no semantic validation), so fragments need not be complete configurations.
absl::StatusOr<v1::Bootstrap> convert(const std::string& yaml) {
  v1::Bootstrap bootstrap;
  absl::Status status = yamlToMessage(yaml, bootstrap);
  if (!status.ok()) return status;
  return bootstrap;
}

std::string convertError(const std::string& yaml) {
  absl::StatusOr<v1::Bootstrap> result = convert(yaml);
  if (result.ok()) return "(no error)";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  return std::string(result.status().message());
}

TEST(YamlToMessageTest, ConvertsNestedMessagesEnumsAndDurations) {
  auto bootstrap = convert(R"(
drain_timeout: 1.5s
static_resources:
  clusters:
    - name: backend
      type: STRICT_DNS
      lb_policy: RING_HASH
      connect_timeout: 0.25s
      ring_hash_lb_config: { minimum_ring_size: 18446744073709551615 }
      endpoints:
        - address: { address: backend.local, port: 8080 }
          weight: 3
)");
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->drain_timeout().seconds(), 1);
  EXPECT_EQ(bootstrap->drain_timeout().nanos(), 500000000);
  const v1::Cluster& cluster = bootstrap->static_resources().clusters(0);
  EXPECT_EQ(cluster.type(), v1::Cluster::STRICT_DNS);
  EXPECT_EQ(cluster.lb_policy(), v1::Cluster::RING_HASH);
  EXPECT_EQ(cluster.connect_timeout().nanos(), 250000000);
  EXPECT_EQ(cluster.ring_hash_lb_config().minimum_ring_size(), 18446744073709551615ull);
  EXPECT_EQ(cluster.endpoints(0).address().address(), "backend.local");
  EXPECT_EQ(cluster.endpoints(0).address().port(), 8080u);
  EXPECT_EQ(cluster.endpoints(0).weight(), 3u);
}

TEST(YamlToMessageTest, AcceptsJsonNamesAndJsonInput) {
  auto bootstrap = convert(
      R"({"drainTimeout": "2s", "staticResources": {"clusters": [{"name": "c", "lbPolicy": )"
      R"("RANDOM", "connectTimeout": "3s", "endpoints": [{"address": {"address": "10.0.0.1", )"
      R"("port": "80"}}]}]}})");
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->drain_timeout().seconds(), 2);
  EXPECT_EQ(bootstrap->static_resources().clusters(0).lb_policy(), v1::Cluster::RANDOM);
  EXPECT_EQ(bootstrap->static_resources().clusters(0).endpoints(0).address().port(), 80u);
}

TEST(YamlToMessageTest, ScalarsThatLookLikeOtherTypesStayStringsInStringFields) {
  auto bootstrap = convert(R"(
static_resources:
  clusters:
    - name: 123
    - name: "456"
    - name: true
    - name: 1.50
    - name: 0x1F
    - name: "null"
    - name: null
)");
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  const auto& clusters = bootstrap->static_resources().clusters();
  EXPECT_EQ(clusters[0].name(), "123");
  EXPECT_EQ(clusters[1].name(), "456");
  EXPECT_EQ(clusters[2].name(), "true");
  EXPECT_EQ(clusters[3].name(), "1.50");  // the text as written, not a re-printed number
  EXPECT_EQ(clusters[4].name(), "0x1F");
  EXPECT_EQ(clusters[5].name(), "null");
  EXPECT_EQ(clusters[6].name(), "");  // YAML null leaves the default
}

TEST(YamlToMessageTest, BooleansAndEscapedStrings) {
  auto bootstrap = convert(R"(
static_resources:
  listeners:
    - http:
        route_config:
          virtual_hosts:
            - request_headers_to_add:
                - { key: x-a, value: "quote \" backslash \\ tab \t end", append: true }
                - { key: x-b, value: "é ☃", append: False }
)");
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  const auto& headers = bootstrap->static_resources()
                            .listeners(0)
                            .http()
                            .route_config()
                            .virtual_hosts(0)
                            .request_headers_to_add();
  EXPECT_EQ(headers[0].value(), "quote \" backslash \\ tab \t end");
  EXPECT_TRUE(headers[0].append());
  EXPECT_EQ(headers[1].value(), "é ☃");
  EXPECT_FALSE(headers[1].append());
}

TEST(YamlToMessageTest, NullOneofMessageSelectsIt) {
  auto bootstrap = convert("static_resources: {listeners: [{name: a, tcp_proxy: }]}");
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_TRUE(bootstrap->static_resources().listeners(0).has_tcp_proxy());
}

TEST(YamlToMessageTest, AnchorsAndAliasesAreExpanded) {
  auto bootstrap = convert(R"(
static_resources:
  clusters:
    - name: a
      endpoints: &eps [{ address: { address: 10.0.0.1, port: 80 } }]
    - name: b
      endpoints: *eps
)");
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  EXPECT_EQ(bootstrap->static_resources().clusters(1).endpoints(0).address().address(), "10.0.0.1");
}

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* expected_prefix;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class YamlErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(YamlErrorTest, NamesThePath) {
  EXPECT_THAT(convertError(GetParam().yaml), StartsWith(GetParam().expected_prefix));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, YamlErrorTest,
    ::testing::Values(
        ErrorCase{"UnknownTopLevelField", "admim: {}",
                  "admim: unknown field (did you mean \"admin\"?)"},
        ErrorCase{
            "UnknownNestedField", "static_resources: {listeners: [{name: a, adress: {}}]}",
            "static_resources.listeners[0].adress: unknown field (did you mean \"address\"?)"},
        ErrorCase{"UnknownFieldWithoutHint",
                  "static_resources: {clusters: [{name: a}, {zzzzzz: 1}]}",
                  "static_resources.clusters[1].zzzzzz: unknown field"},
        ErrorCase{"BadEnumName",
                  "static_resources: {clusters: [{name: a}, {name: b, lb_policy: ROUND_ROBINN}]}",
                  "static_resources.clusters[1].lb_policy: unknown value \"ROUND_ROBINN\" "
                  "(expected one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH)"},
        ErrorCase{"EnumNamesAreCaseSensitive", "static_resources: {clusters: [{type: strict_dns}]}",
                  "static_resources.clusters[0].type: unknown value \"strict_dns\""},
        ErrorCase{"BadDurationWithSuggestion",
                  "static_resources: {clusters: [{connect_timeout: 5 seconds}]}",
                  "static_resources.clusters[0].connect_timeout: invalid duration \"5 seconds\" "
                  "(did you mean \"5s\"?"},
        ErrorCase{"MillisecondsSuggestSeconds",
                  "static_resources: {clusters: [{connect_timeout: 250ms}]}",
                  "static_resources.clusters[0].connect_timeout: invalid duration \"250ms\" "
                  "(did you mean \"0.25s\"?"},
        ErrorCase{"BareNumberDuration", "drain_timeout: 10",
                  "drain_timeout: invalid duration \"10\" (did you mean \"10s\"?"},
        ErrorCase{"GarbageDuration", "drain_timeout: soon",
                  "drain_timeout: invalid duration \"soon\" (expected seconds"},
        ErrorCase{"TooManyFractionDigits", "drain_timeout: 1.0000000001s",
                  "drain_timeout: invalid duration"},
        ErrorCase{"DurationOutOfRange", "drain_timeout: 999999999999s",
                  "drain_timeout: duration \"999999999999s\" is out of range"},
        ErrorCase{"DurationAsMap", "drain_timeout: {seconds: 1}",
                  "drain_timeout: expected a Duration string, got a map"},
        ErrorCase{"NegativeUnsigned", "static_resources: {clusters: [{endpoints: [{weight: -1}]}]}",
                  "static_resources.clusters[0].endpoints[0].weight: invalid value -1 (must not "
                  "be negative)"},
        ErrorCase{"Uint32Overflow",
                  "static_resources: {listeners: [{address: {port: 4294967296}}]}",
                  "static_resources.listeners[0].address.port: value 4294967296 is out of range "
                  "(at most 4294967295)"},
        ErrorCase{"Uint64Overflow",
                  "static_resources: {clusters: [{ring_hash_lb_config: "
                  "{minimum_ring_size: 18446744073709551616}}]}",
                  "static_resources.clusters[0].ring_hash_lb_config.minimum_ring_size: value "
                  "18446744073709551616 is out of range"},
        ErrorCase{"FractionForInteger", "static_resources: {listeners: [{address: {port: 80.5}}]}",
                  "static_resources.listeners[0].address.port: invalid integer \"80.5\""},
        ErrorCase{"WordForInteger", "static_resources: {listeners: [{address: {port: http}}]}",
                  "static_resources.listeners[0].address.port: invalid integer \"http\""},
        ErrorCase{"YesIsNotABoolean",
                  "static_resources: {listeners: [{http: {route_config: {virtual_hosts: "
                  "[{request_headers_to_add: [{key: a, append: yes}]}]}}}]}",
                  "static_resources.listeners[0].http.route_config.virtual_hosts[0]."
                  "request_headers_to_add[0].append: invalid boolean \"yes\" (expected true or "
                  "false)"},
        ErrorCase{"MapWhereScalarExpected", "static_resources: {clusters: [{name: {first: a}}]}",
                  "static_resources.clusters[0].name: expected a string, got a map"},
        ErrorCase{"ScalarWhereSequenceExpected", "static_resources: {listeners: {name: a}}",
                  "static_resources.listeners: expected a sequence (a list of items), got a map"},
        ErrorCase{"ScalarWhereMessageExpected", "admin: 127.0.0.1:15000",
                  "admin: expected a map of fields, got \"127.0.0.1:15000\""},
        ErrorCase{"SequenceOfScalarsWhereMessagesExpected",
                  "static_resources: {clusters: [backend]}",
                  "static_resources.clusters[0]: expected a map of fields, got \"backend\""},
        ErrorCase{"NullInStringList",
                  "static_resources: {listeners: [{http: {route_config: {virtual_hosts: "
                  "[{domains: [a, ~]}]}}}]}",
                  "static_resources.listeners[0].http.route_config.virtual_hosts[0].domains[1]: "
                  "expected a string, got nothing"},
        ErrorCase{"BothOneofHandlers",
                  "static_resources: {listeners: [{tcp_proxy: {cluster: a}, http: {}}]}",
                  "static_resources.listeners[0].http: conflicts with \"tcp_proxy\" (only one of "
                  "tcp_proxy, http may be set)"},
        ErrorCase{"TwoPathSpecifiers",
                  "static_resources: {listeners: [{http: {route_config: {virtual_hosts: [{routes: "
                  "[{match: {prefix: /, path: /a}}]}]}}}]}",
                  "static_resources.listeners[0].http.route_config.virtual_hosts[0].routes[0]."
                  "match.path: conflicts with \"prefix\""},
        ErrorCase{"SameFieldByBothNames",
                  "static_resources: {clusters: [{lb_policy: RANDOM, lbPolicy: RANDOM}]}",
                  "static_resources.clusters[0].lb_policy: set more than once (as \"lb_policy\" "
                  "and \"lbPolicy\")"},
        ErrorCase{"EmptyDocument", "", "the configuration is empty"},
        ErrorCase{"CommentsOnly", "# nothing here\n", "the configuration is empty"},
        ErrorCase{"TopLevelSequence", "- a\n- b\n",
                  "the top level must be a map of fields, got a sequence"},
        ErrorCase{"TopLevelScalar", "hello", "the top level must be a map of fields"},
        ErrorCase{"TwoDocuments", "admin: {}\n---\nadmin: {}\n", "line 2: a second YAML document"},
        ErrorCase{"SyntaxErrorHasLineAndColumn", "admin:\n  address: [1, 2\n",
                  "line 3, column 1: invalid YAML"},
        ErrorCase{"BadIndentation", "admin:\n  address: {}\n bad: 1\n",
                  "line 3, column 2: invalid YAML: end of map not found"},
        ErrorCase{"TabIndentation", "admin:\n\taddress: {}\n",
                  "line 2, column 9: invalid YAML: illegal map value (YAML does not allow tabs "
                  "for indentation)"},
        // yaml-cpp 0.7 loops forever on a stray "," outside a flow collection.
        ErrorCase{"StrayComma", ",", "line 1, column 1: invalid YAML: unexpected \",\""},
        ErrorCase{"StrayCommaAfterDocument", "{admin: {}},",
                  "line 1, column 12: invalid YAML: unexpected \",\""},
        ErrorCase{"StrayCommaAfterComment", "# c\n  ,", "line 2, column 3: invalid YAML"},
        ErrorCase{"BrokenSequence", "- ,", "line 1, column 3: invalid YAML: end of sequence"},
        ErrorCase{"NonScalarKey", "{[a]: 1}", "a field name must be a plain word, got a sequence"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(YamlToMessageTest, DuplicateKeyIsAnError) {
  EXPECT_THAT(convertError("drain_timeout: 1s\ndrain_timeout: 2s\n"),
              StartsWith("drain_timeout: set more than once"));
}

// A schema built at run time, for types the bootstrap does not use (Timestamp, Struct, maps,
// wrappers, floats, signed and bytes fields).
class DynamicSchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"pb(
          name: "probe/probe.proto"
          package: "probe"
          syntax: "proto3"
          dependency: "google/protobuf/timestamp.proto"
          dependency: "google/protobuf/struct.proto"
          dependency: "google/protobuf/wrappers.proto"
          message_type {
            name: "Probe"
            field {
              name: "at"
              number: 1
              label: LABEL_OPTIONAL
              type: TYPE_MESSAGE
              type_name: ".google.protobuf.Timestamp"
              json_name: "at"
            }
            field {
              name: "items"
              number: 2
              label: LABEL_REPEATED
              type: TYPE_MESSAGE
              type_name: ".probe.Probe"
              json_name: "items"
            }
            field {
              name: "meta"
              number: 3
              label: LABEL_OPTIONAL
              type: TYPE_MESSAGE
              type_name: ".google.protobuf.Struct"
              json_name: "meta"
            }
            field {
              name: "counts"
              number: 4
              label: LABEL_REPEATED
              type: TYPE_MESSAGE
              type_name: ".probe.Probe.CountsEntry"
              json_name: "counts"
            }
            field {
              name: "limit"
              number: 5
              label: LABEL_OPTIONAL
              type: TYPE_MESSAGE
              type_name: ".google.protobuf.UInt32Value"
              json_name: "limit"
            }
            field {
              name: "blob"
              number: 6
              label: LABEL_OPTIONAL
              type: TYPE_BYTES
              json_name: "blob"
            }
            field {
              name: "ratio"
              number: 7
              label: LABEL_OPTIONAL
              type: TYPE_DOUBLE
              json_name: "ratio"
            }
            field {
              name: "delta"
              number: 8
              label: LABEL_OPTIONAL
              type: TYPE_SINT32
              json_name: "delta"
            }
            field { name: "big" number: 9 label: LABEL_OPTIONAL type: TYPE_INT64 json_name: "big" }
            nested_type {
              name: "CountsEntry"
              field {
                name: "key"
                number: 1
                label: LABEL_OPTIONAL
                type: TYPE_STRING
                json_name: "key"
              }
              field {
                name: "value"
                number: 2
                label: LABEL_OPTIONAL
                type: TYPE_INT32
                json_name: "value"
              }
              options { map_entry: true }
            }
          }
        )pb",
        &file));
    const google::protobuf::FileDescriptor* built = pool_.BuildFile(file);
    ASSERT_NE(built, nullptr);
    prototype_ = factory_.GetPrototype(built->FindMessageTypeByName("Probe"));
  }

  std::unique_ptr<google::protobuf::Message> parse(const std::string& yaml, absl::Status* status) {
    std::unique_ptr<google::protobuf::Message> message(prototype_->New());
    *status = yamlToMessage(yaml, *message);
    return message;
  }

  std::string json(const google::protobuf::Message& message) {
    std::string out;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &out).ok());
    return out;
  }

  google::protobuf::DescriptorPool pool_{google::protobuf::DescriptorPool::generated_pool()};
  google::protobuf::DynamicMessageFactory factory_{&pool_};
  const google::protobuf::Message* prototype_ = nullptr;
};

TEST_F(DynamicSchemaTest, ConvertsStructMapsWrappersFloatsAndBytes) {
  absl::Status status;
  auto message = parse(R"(
at: 2024-01-02T03:04:05Z
meta: { team: core, replicas: 3, canary: true, quoted: "3", nothing: ~, list: [1, a] }
counts: { a: 1, b: -2 }
limit: 7
blob: aGVsbG8=
ratio: .inf
delta: -5
big: -9223372036854775808
items: [ { ratio: 0.5 } ]
)",
                       &status);
  ASSERT_TRUE(status.ok()) << status;
  const std::string out = json(*message);
  EXPECT_THAT(out, HasSubstr(R"("at":"2024-01-02T03:04:05Z")"));
  EXPECT_THAT(out, HasSubstr(R"("team":"core")"));
  EXPECT_THAT(out, HasSubstr(R"("replicas":3)"));
  EXPECT_THAT(out, HasSubstr(R"("canary":true)"));
  EXPECT_THAT(out, HasSubstr(R"("quoted":"3")"));
  EXPECT_THAT(out, HasSubstr(R"("nothing":null)"));
  EXPECT_THAT(out, HasSubstr(R"("list":[1,"a"])"));
  EXPECT_THAT(out, HasSubstr(R"("counts":{"a":1,"b":-2})"));
  EXPECT_THAT(out, HasSubstr(R"("limit":7)"));
  EXPECT_THAT(out, HasSubstr(R"("blob":"aGVsbG8=")"));
  EXPECT_THAT(out, HasSubstr(R"("ratio":"Infinity")"));
  EXPECT_THAT(out, HasSubstr(R"("delta":-5)"));
  EXPECT_THAT(out, HasSubstr(R"("big":"-9223372036854775808")"));
  EXPECT_THAT(out, HasSubstr(R"("items":[{"ratio":0.5}])"));
}

TEST_F(DynamicSchemaTest, ErrorsInMapsAndWrappersNameThePath) {
  absl::Status status;
  parse("counts: { a: 1, b: 2147483648 }", &status);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("counts[\"b\"]: value 2147483648 is out of range"));
  parse("limit: -1", &status);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("limit: invalid value -1 (must not be negative)"));
  parse("blob: \"not base64!\"", &status);
  EXPECT_THAT(std::string(status.message()), StartsWith("blob: invalid base64"));
  parse("ratio: fast", &status);
  EXPECT_THAT(std::string(status.message()), StartsWith("ratio: invalid number \"fast\""));
  parse("delta: -2147483649", &status);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("delta: value -2147483649 is out of range"));
}

// The walk does not check Timestamp syntax; protobuf's parser rejects it and the loader still
// finds which field it was.
TEST_F(DynamicSchemaTest, ProtobufParserErrorsAreLocated) {
  absl::Status status;
  parse("items: [ {ratio: 1}, {items: [{at: yesterday}]} ]", &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("items[1].items[0].at: invalid value Field 'at', Invalid time format"));
}

TEST_F(DynamicSchemaTest, AliasBombThroughStructIsRejected) {
  std::string yaml = "meta:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    absl::StrAppend(&yaml, "  a", i, ": &a", i, " [");
    for (int k = 0; k < 10; ++k) absl::StrAppend(&yaml, k ? ", " : "", "*a", i - 1);
    absl::StrAppend(&yaml, "]\n");
  }
  absl::Status status;
  parse(yaml, &status);
  EXPECT_THAT(std::string(status.message()), HasSubstr("configuration too large"));
}

TEST_F(DynamicSchemaTest, DeepNestingIsRejected) {
  std::string yaml = "meta: ";
  for (int i = 0; i < 200; ++i) yaml += "{a: ";
  yaml += "1";
  for (int i = 0; i < 200; ++i) yaml += "}";
  absl::Status status;
  parse(yaml, &status);
  EXPECT_FALSE(status.ok());
}

}  // namespace
}  // namespace skiff::config
