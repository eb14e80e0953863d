// Registry: dedup, misuse handling, and the Prometheus text it renders.

#include <chrono>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "stats/stats.h"

namespace skiff::stats {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { setThreadShard(1); }  // the main thread's shard of a 2-shard registry
  Registry registry_{2};
};

TEST_F(RegistryTest, SameNameAndLabelsReturnSameMetric) {
  Counter& a = registry_.counter("x_total", "X.", {{"k", "v"}});
  Counter& b = registry_.counter("x_total", "X.", {{"k", "v"}});
  Counter& c = registry_.counter("x_total", "X.", {{"k", "w"}});
  Counter& d = registry_.counter("x_total", "X.", {});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  EXPECT_NE(&a, &d);
  EXPECT_NE(&c, &d);
  EXPECT_EQ(&registry_.gauge("g", "G.", {}), &registry_.gauge("g", "G.", {}));
  EXPECT_EQ(&registry_.histogram("h", "H.", {{"a", "1"}}),
            &registry_.histogram("h", "H.", {{"a", "1"}}));
  EXPECT_EQ(&registry_.codeCounter("c_total", "C.", {}),
            &registry_.codeCounter("c_total", "C.", {}));
}

TEST_F(RegistryTest, LabelOrderDoesNotMakeANewSeries) {
  Counter& a = registry_.counter("x_total", "X.", {{"a", "1"}, {"b", "2"}});
  Counter& b = registry_.counter("x_total", "X.", {{"b", "2"}, {"a", "1"}});
  EXPECT_EQ(&a, &b);
  a.inc();
  // Rendered in the order given when the series was created.
  EXPECT_EQ(registry_.renderPrometheus(),
            "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"1\",b=\"2\"} 1\n");
}

TEST_F(RegistryTest, LabelValuesThatLookAlikeStayApart) {
  // A naive "name=value," key would make these two collide.
  Counter& a = registry_.counter("x_total", "X.", {{"a", "1,b=2"}});
  Counter& b = registry_.counter("x_total", "X.", {{"a", "1"}, {"b", "2"}});
  EXPECT_NE(&a, &b);
}

TEST_F(RegistryTest, HelpIsWrittenOncePerName) {
  registry_.counter("x_total", "First.", {{"k", "1"}}).inc();
  registry_.counter("x_total", "Second.", {{"k", "2"}}).inc();
  EXPECT_EQ(registry_.renderPrometheus(),
            "# HELP x_total First.\n# TYPE x_total counter\n"
            "x_total{k=\"1\"} 1\nx_total{k=\"2\"} 1\n");
}

TEST_F(RegistryTest, TypeMismatchIsNotExportedButWorks) {
  Counter& counter = registry_.counter("thing", "A counter.", {});
  counter.inc(7);
  Gauge& gauge = registry_.gauge("thing", "A gauge.", {});
  gauge.add(100);
  EXPECT_EQ(gauge.value(), 100);
  Histogram& h = registry_.histogram("thing", "H.", {});
  h.record(1);
  registry_.codeCounter("thing", "C.", {}).inc(200);
  EXPECT_EQ(registry_.renderPrometheus(),
            "# HELP thing A counter.\n# TYPE thing counter\nthing 7\n");
  // Asking again with the right type still finds the exported one.
  EXPECT_EQ(&registry_.counter("thing", "A counter.", {}), &counter);
}

TEST_F(RegistryTest, InvalidNamesAreNotExportedButWork) {
  std::vector<Counter*> bad = {
      &registry_.counter("bad-name_total", "X.", {}),
      &registry_.counter("9lives_total", "X.", {}),
      &registry_.counter("", "X.", {}),
      &registry_.counter("ok_total", "X.", {{"bad-label", "v"}}),
      &registry_.counter("ok_total", "X.", {{"1abc", "v"}}),
      &registry_.counter("ok_total", "X.", {{"", "v"}}),
      &registry_.counter("ok_total", "X.", {{"__reserved", "v"}}),
      &registry_.counter("ok_total", "X.", {{"a", "1"}, {"a", "2"}}),
  };
  for (Counter* c : bad) c->inc();
  Histogram& h = registry_.histogram("lat_seconds", "L.", {{"le", "1"}});
  h.record(0.1);
  EXPECT_EQ(h.snapshot().count, 1u);
  registry_.codeCounter("resp_total", "R.", {{"code", "x"}}).inc(200);
  EXPECT_EQ(registry_.renderPrometheus(), "");
  // Colons are valid in metric names; the invalid ones did not block the valid name.
  registry_.counter("ok:rule_total", "X.", {{"_a1", "v"}}).inc();
  registry_.counter("ok_total", "X.", {}).inc();
  EXPECT_EQ(registry_.renderPrometheus(),
            "# HELP ok:rule_total X.\n# TYPE ok:rule_total counter\nok:rule_total{_a1=\"v\"} 1\n"
            "# HELP ok_total X.\n# TYPE ok_total counter\nok_total 1\n");
}

TEST_F(RegistryTest, LabelValuesAndHelpAreEscaped) {
  registry_
      .counter("x_total", "Back\\slash and\nnewline \"quoted\".", {{"v", "a\"b\\c\nd"}, {"e", ""}})
      .inc();
  EXPECT_EQ(registry_.renderPrometheus(),
            "# HELP x_total Back\\\\slash and\\nnewline \"quoted\".\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"a\\\"b\\\\c\\nd\",e=\"\"} 1\n");
}

TEST_F(RegistryTest, GoldenRender) {
  registry_.counter("skiff_requests_total", "Requests.", {{"listener", "in"}}).inc(12);
  registry_.counter("skiff_requests_total", "Requests.", {{"listener", "out"}}).inc(3);
  registry_.gauge("skiff_connections_active", "Open connections.", {}).add(4);
  registry_.gauge("skiff_negative", "Can go below zero.", {}).sub(2);
  Histogram& h = registry_.histogram("skiff_request_seconds", "Latency.", {{"cluster", "a"}});
  h.record(0.0004);
  h.record(0.003);
  h.record(20);
  registry_.histogram("skiff_request_seconds", "Latency.", {{"cluster", "b"}});
  CodeCounter& codes =
      registry_.codeCounter("skiff_responses_total", "Responses by code.", {{"cluster", "a"}});
  codes.inc(200);
  codes.inc(200);
  codes.inc(503);
  registry_.codeCounter("skiff_responses_total", "Responses by code.", {{"cluster", "b"}});
  registry_.codeCounter("skiff_unused_total", "Nothing yet.", {});
  registry_.codeCounter("skiff_bare_total", "No labels.", {}).inc(101);

  const std::string expected =
      "# HELP skiff_bare_total No labels.\n"
      "# TYPE skiff_bare_total counter\n"
      "skiff_bare_total{code=\"101\"} 1\n"
      "# HELP skiff_connections_active Open connections.\n"
      "# TYPE skiff_connections_active gauge\n"
      "skiff_connections_active 4\n"
      "# HELP skiff_negative Can go below zero.\n"
      "# TYPE skiff_negative gauge\n"
      "skiff_negative -2\n"
      "# HELP skiff_request_seconds Latency.\n"
      "# TYPE skiff_request_seconds histogram\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.0005\"} 1\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.001\"} 1\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.0025\"} 1\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.005\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.01\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.025\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.05\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.1\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.25\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"0.5\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"1\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"2.5\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"5\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"10\"} 2\n"
      "skiff_request_seconds_bucket{cluster=\"a\",le=\"+Inf\"} 3\n"
      "skiff_request_seconds_sum{cluster=\"a\"} 20.0034\n"
      "skiff_request_seconds_count{cluster=\"a\"} 3\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.0005\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.001\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.0025\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.005\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.01\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.025\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.05\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.1\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.25\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"0.5\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"1\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"2.5\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"5\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"10\"} 0\n"
      "skiff_request_seconds_bucket{cluster=\"b\",le=\"+Inf\"} 0\n"
      "skiff_request_seconds_sum{cluster=\"b\"} 0\n"
      "skiff_request_seconds_count{cluster=\"b\"} 0\n"
      "# HELP skiff_requests_total Requests.\n"
      "# TYPE skiff_requests_total counter\n"
      "skiff_requests_total{listener=\"in\"} 12\n"
      "skiff_requests_total{listener=\"out\"} 3\n"
      "# HELP skiff_responses_total Responses by code.\n"
      "# TYPE skiff_responses_total counter\n"
      "skiff_responses_total{cluster=\"a\",code=\"200\"} 2\n"
      "skiff_responses_total{cluster=\"a\",code=\"503\"} 1\n";
  EXPECT_EQ(registry_.renderPrometheus(), expected);
}

TEST_F(RegistryTest, CodeCounterFamilyAppearsOnceItHasData) {
  CodeCounter& codes = registry_.codeCounter("r_total", "R.", {});
  EXPECT_EQ(registry_.renderPrometheus(), "");
  codes.inc(404);
  EXPECT_EQ(registry_.renderPrometheus(),
            "# HELP r_total R.\n# TYPE r_total counter\nr_total{code=\"404\"} 1\n");
}

TEST_F(RegistryTest, LargeIntegersHaveNoExponent) {
  registry_.counter("big_total", "B.", {}).inc(uint64_t{1} << 62);
  registry_.gauge("low", "L.", {}).sub(int64_t{1} << 62);
  EXPECT_EQ(registry_.renderPrometheus(),
            "# HELP big_total B.\n# TYPE big_total counter\nbig_total 4611686018427387904\n"
            "# HELP low L.\n# TYPE low gauge\nlow -4611686018427387904\n");
}

TEST_F(RegistryTest, TinyAndHugeHistogramSumsHaveNoExponent) {
  registry_.histogram("tiny_seconds", "T.", {}).record(0.000000001);
  registry_.histogram("huge_seconds", "H.", {}).record(123456789);
  std::string text = registry_.renderPrometheus();
  EXPECT_TRUE(absl::StrContains(text, "\ntiny_seconds_sum 0.000000001\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "\nhuge_seconds_sum 123456789\n")) << text;
}

// Checks a whole exposition against the text format 0.0.4 grammar, one regex per line type,
// plus the structure promtool cares about: HELP then TYPE once per family, samples belong to
// the family just declared, no duplicate series, cumulative buckets ending in +Inf == _count.
void checkExposition(const std::string& text) {
  static const std::string kName = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  static const std::string kLabel = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"";
  static const std::string kValue = "-?[0-9]+(?:\\.[0-9]+)?|[+-]Inf|NaN";
  static const std::regex help_re("# HELP (" + kName + ") (?:[^\\\\\\n]|\\\\[\\\\n])*");
  static const std::regex type_re("# TYPE (" + kName + ") (counter|gauge|histogram|untyped)");
  static const std::regex sample_re("(" + kName + ")(\\{(?:" + kLabel + ")(?:," + kLabel +
                                    ")*\\})? (" + kValue + ")");
  static const std::regex le_re("le=\"([^\"]*)\"");

  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::vector<std::string> lines = absl::StrSplit(text.substr(0, text.size() - 1), '\n');
  std::set<std::string> families_seen, series_seen;
  std::string family, type, pending_help;
  // Histogram state for the series being read: last cumulative count and the +Inf value.
  std::map<std::string, double> last_bucket, inf_bucket;
  std::smatch m;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    SCOPED_TRACE(absl::StrCat("line ", i + 1, ": ", line));
    if (std::regex_match(line, m, help_re)) {
      ASSERT_TRUE(families_seen.insert(m[1]).second) << "family declared twice";
      pending_help = m[1];
    } else if (std::regex_match(line, m, type_re)) {
      ASSERT_EQ(m[1], pending_help) << "TYPE must follow the family's HELP";
      family = m[1];
      type = m[2];
      pending_help.clear();
      ASSERT_TRUE(i + 1 < lines.size() && lines[i + 1][0] != '#') << "family without samples";
    } else if (std::regex_match(line, m, sample_re)) {
      ASSERT_FALSE(family.empty());
      ASSERT_TRUE(series_seen.insert(m[1].str() + m[2].str()).second) << "duplicate series";
      std::string name = m[1];
      std::string labels = m[2];
      double value;
      ASSERT_TRUE(absl::SimpleAtod(m[3].str(), &value));
      if (type != "histogram") {
        ASSERT_EQ(name, family);
        if (type == "counter") ASSERT_GE(value, 0);
        continue;
      }
      std::smatch le;
      if (name == family + "_bucket") {
        ASSERT_TRUE(std::regex_search(labels, le, le_re));
        std::string key = std::regex_replace(labels, le_re, "");
        ASSERT_GE(value, last_bucket[key]) << "buckets must be cumulative";
        last_bucket[key] = value;
        if (le[1] == "+Inf") inf_bucket[key] = value;
      } else if (name == family + "_count") {
        std::string key = labels.empty() ? "{}" : labels.substr(0, labels.size() - 1) + ",}";
        ASSERT_EQ(inf_bucket.count(key), 1u) << "_count before the +Inf bucket";
        ASSERT_EQ(inf_bucket[key], value);
      } else {
        ASSERT_EQ(name, family + "_sum");
      }
    } else {
      FAIL() << "line matches no rule of the exposition format";
    }
  }
  ASSERT_TRUE(pending_help.empty()) << "HELP without TYPE at the end";
}

TEST_F(RegistryTest, LargeRenderFollowsTheGrammarAndIsFast) {
  // ~1,000 series of every kind, with awkward label values.
  for (int c = 0; c < 100; ++c) {
    Labels labels = {{"cluster", absl::StrCat("svc-", c, ".ns\"q\\\n")}, {"zone", "z"}};
    registry_.counter("skiff_upstream_rq_total", "Upstream requests.", labels).inc(c);
    registry_.counter("skiff_upstream_cx_total", "Upstream connections.", labels).inc(c * 3);
    registry_.gauge("skiff_upstream_cx_active", "Active.", labels).add(c - 50);
    Histogram& h = registry_.histogram("skiff_upstream_rq_seconds", "Latency.", labels);
    for (int k = 0; k < c; ++k) h.record(0.0001 * k * k);
    CodeCounter& codes = registry_.codeCounter("skiff_upstream_rq_code_total", "By code.", labels);
    for (int k = 0; k < c; ++k) codes.inc(100 + k * 10);
  }
  for (int l = 0; l < 400; ++l) {
    registry_
        .counter(absl::StrCat("skiff_listener_", l % 20, "_cx_total"), "Per listener.",
                 {{"listener", absl::StrCat("l", l)}})
        .inc(l);
  }
  registry_.histogram("skiff_unlabelled_seconds", "No labels.", {}).record(3);

  auto start = std::chrono::steady_clock::now();
  std::string text = registry_.renderPrometheus();
  auto elapsed = std::chrono::steady_clock::now() - start;
  int series = 0;
  for (char c : text) series += c == '\n';
  std::cout << "rendered " << series << " lines, " << text.size() << " bytes in "
            << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() << " us\n";
  checkExposition(text);
  EXPECT_TRUE(absl::StrContains(
      text, "skiff_upstream_rq_seconds_count{cluster=\"svc-7.ns\\\"q\\\\\\n\",zone=\"z\"} 7\n"));
  // A loose bound: the machine is shared, and a Debug build is several times slower than
  // release; the printed time above is the number to watch.
  EXPECT_LT(elapsed, std::chrono::milliseconds(250));
}

TEST(ExpositionCheckerTest, RejectsBrokenText) {
  // The checker must catch what it claims to, or the large-render test proves nothing.
  EXPECT_FATAL_FAILURE(checkExposition("# HELP a_total x\n# TYPE a_total counter\n"
                                       "a_total{k=\"un\"escaped\"} 1\n"),
                       "matches no rule");
  EXPECT_FATAL_FAILURE(checkExposition("# HELP a_total x\n# TYPE a_total counter\n"
                                       "a_total 1e+06\n"),
                       "matches no rule");
  EXPECT_FATAL_FAILURE(checkExposition("# HELP a_total x\n# TYPE a_total counter\n"
                                       "# HELP b_total y\n# TYPE b_total counter\nb_total 1\n"),
                       "family without samples");
  EXPECT_FATAL_FAILURE(checkExposition("# HELP a_total x\n# TYPE a_total counter\n"
                                       "a_total{k=\"1\"} 1\na_total{k=\"1\"} 2\n"),
                       "duplicate series");
  EXPECT_FATAL_FAILURE(checkExposition("# HELP h x\n# TYPE h histogram\n"
                                       "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                                       "h_sum 1\nh_count 1\n"),
                       "cumulative");
  EXPECT_FATAL_FAILURE(checkExposition("# HELP h x\n# TYPE h histogram\n"
                                       "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n"),
                       "");
}

}  // namespace
}  // namespace skiff::stats
