#pragma once
// A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4):
// counters and fixed-bucket histograms with labels, and gauges computed at scrape time.
// Dependency-free (the standard library only), so every layer can count what it sees.
//
// Label values are bounded by the callers (route patterns, provider ids, fixed result names),
// never raw input: each distinct label set lives until the process ends.
//
// Thread-safety: every method may be called concurrently. Finding a label set's series takes
// the family's lock shared (exclusive only the first time the set is used); incrementing and
// observing are atomics.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace keystep::metrics {

using Labels = std::vector<std::string>;  // values, in the order of the family's label names

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  // `bounds`: the upper bounds of the buckets, strictly increasing; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  // Cumulative counts, one per bound plus +Inf (the last is the number of observations).
  std::vector<uint64_t> cumulative() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bucket (not cumulative), +Inf last
  std::atomic<double> sum_{0};
};

// One metric name with a fixed list of label names and one series per label set.
template <class Series>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 protected:
  // The series of `labels`, created on first use. `labels` must have one value per name.
  template <class... Args>
  Series& series(const Labels& labels, Args&&... args);
  // A copy of the label sets and their series, for rendering.
  std::vector<std::pair<Labels, const Series*>> snapshot() const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  mutable std::shared_mutex mu_;
  std::map<Labels, std::unique_ptr<Series>> series_;
};

class CounterFamily final : public Family<Counter> {
 public:
  using Family::Family;
  Counter& with(const Labels& labels) { return series(labels); }
  void render(std::string& out) const;
};

class HistogramFamily final : public Family<Histogram> {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds)
      : Family(std::move(name), std::move(help), std::move(label_names)),
        bounds_(std::move(bounds)) {}
  Histogram& with(const Labels& labels) { return series(labels, bounds_); }
  void render(std::string& out) const;

 private:
  std::vector<double> bounds_;
};

// A sample computed at scrape time, e.g. from a database.
struct GaugeSample {
  std::string name;
  std::string help;
  std::vector<std::pair<std::string, std::string>> labels;  // name, value
  double value = 0;
};

class Registry {
 public:
  // Adds a family; the registry owns it and the reference stays valid for its lifetime.
  // Names must be unique (asserted) and match [a-zA-Z_:][a-zA-Z0-9_:]*.
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> label_names, std::vector<double> bounds);

  // Every family, then `gauges` (samples of one name are grouped under one HELP/TYPE), in
  // the text exposition format, ending with a newline.
  std::string render(const std::vector<GaugeSample>& gauges = {}) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<CounterFamily>> counters_;
  std::vector<std::unique_ptr<HistogramFamily>> histograms_;
};

// The text format's escaping of a label value (backslash, double quote, newline) and of
// HELP text (backslash, newline).
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// A sample value: integers without a fraction, +Inf, NaN.
std::string format_value(double value);

template <class Series>
template <class... Args>
Series& Family<Series>::series(const Labels& labels, Args&&... args) {
  {
    std::shared_lock lock(mu_);
    if (auto it = series_.find(labels); it != series_.end()) return *it->second;
  }
  std::lock_guard lock(mu_);
  auto& slot = series_[labels];
  if (!slot) slot = std::make_unique<Series>(std::forward<Args>(args)...);
  return *slot;
}

template <class Series>
std::vector<std::pair<Labels, const Series*>> Family<Series>::snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<Labels, const Series*>> out;
  for (const auto& [labels, s] : series_) out.emplace_back(labels, s.get());
  return out;
}

}  // namespace keystep::metrics
