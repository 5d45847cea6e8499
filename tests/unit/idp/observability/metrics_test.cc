#include "idp/observability/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

namespace keystep::metrics {
namespace {

TEST(Metrics, CountersRenderWithHelpTypeAndLabels) {
  Registry registry;
  auto& family = registry.counter("x_total", "Things.\nCounted \\ here.", {"kind", "result"});
  family.with({"a", "ok"}).inc();
  family.with({"a", "ok"}).inc(2);
  family.with({"b\"q", "line\nbreak"}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP x_total Things.\\nCounted \\\\ here.\n"
            "# TYPE x_total counter\n"
            "x_total{kind=\"a\",result=\"ok\"} 3\n"
            "x_total{kind=\"b\\\"q\",result=\"line\\nbreak\"} 1\n");
}

TEST(Metrics, ACounterWithoutLabelsHasNoBraces) {
  Registry registry;
  registry.counter("plain_total", "p").with({}).inc();
  EXPECT_EQ(registry.render(), "# HELP plain_total p\n# TYPE plain_total counter\nplain_total 1\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeAndInclusiveOfTheirBound) {
  Registry registry;
  auto& h = registry.histogram("d_seconds", "D.", {"route"}, {0.1, 1});
  auto& series = h.with({"/x"});
  series.observe(0.1);  // le 0.1 (bounds are inclusive)
  series.observe(0.5);  // le 1
  series.observe(30);   // +Inf only
  EXPECT_EQ(registry.render(),
            "# HELP d_seconds D.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"
            "d_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
            "d_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
            "d_seconds_sum{route=\"/x\"} 30.6\n"
            "d_seconds_count{route=\"/x\"} 3\n");
}

TEST(Metrics, GaugesOfOneNameShareOneHeader) {
  Registry registry;
  const std::string text = registry.render(
      {{"g", "G.", {{"k", "1"}}, 2}, {"h", "H.", {}, 0.25}, {"g", "G.", {{"k", "2"}}, 3}});
  EXPECT_EQ(text,
            "# HELP g G.\n# TYPE g gauge\ng{k=\"1\"} 2\ng{k=\"2\"} 3\n"
            "# HELP h H.\n# TYPE h gauge\nh 0.25\n");
}

TEST(Metrics, ConcurrentIncrementsAreAllCounted) {
  Registry registry;
  auto& family = registry.counter("c_total", "c", {"t"});
  auto& h = registry.histogram("h_seconds", "h", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        family.with({t % 2 ? "odd" : "even"}).inc();
        h.with({}).observe(0.5);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(family.with({"odd"}).value() + family.with({"even"}).value(), 80000u);
  EXPECT_EQ(h.with({}).cumulative().back(), 80000u);
  EXPECT_DOUBLE_EQ(h.with({}).sum(), 40000);
}

TEST(Metrics, ValuesAreFormattedForTheTextFormat) {
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.0025), "0.0025");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

}  // namespace
}  // namespace keystep::metrics
