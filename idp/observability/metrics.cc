#include "idp/observability/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>

namespace keystep::metrics {
namespace {

[[maybe_unused]] bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " " + escape_help(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

// {a="x",b="y"} for the names and values, plus one extra pair when `extra_name` is set.
std::string label_text(const std::vector<std::string>& names, const Labels& values,
                       std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += std::string(extra_name) + "=\"" + escape_label_value(extra_value) + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
  // Prometheus buckets are "less than or equal to the bound".
  const size_t index = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

void CounterFamily::render(std::string& out) const {
  header(out, name(), help(), "counter");
  for (const auto& [labels, counter] : snapshot())
    out +=
        name() + label_text(label_names(), labels) + " " + std::to_string(counter->value()) + "\n";
}

void HistogramFamily::render(std::string& out) const {
  header(out, name(), help(), "histogram");
  for (const auto& [labels, histogram] : snapshot()) {
    const auto counts = histogram->cumulative();
    for (size_t i = 0; i < counts.size(); ++i) {
      const std::string le = i < bounds_.size() ? format_value(bounds_[i]) : "+Inf";
      out += name() + "_bucket" + label_text(label_names(), labels, "le", le) + " " +
             std::to_string(counts[i]) + "\n";
    }
    out += name() + "_sum" + label_text(label_names(), labels) + " " +
           format_value(histogram->sum()) + "\n";
    out += name() + "_count" + label_text(label_names(), labels) + " " +
           std::to_string(counts.back()) + "\n";
  }
}

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  assert(valid_name(name));
  std::lock_guard lock(mu_);
  counters_.push_back(
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names)));
  return *counters_.back();
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::vector<std::string> label_names,
                                     std::vector<double> bounds) {
  assert(valid_name(name));
  std::lock_guard lock(mu_);
  histograms_.push_back(std::make_unique<HistogramFamily>(
      std::move(name), std::move(help), std::move(label_names), std::move(bounds)));
  return *histograms_.back();
}

std::string Registry::render(const std::vector<GaugeSample>& gauges) const {
  std::string out;
  {
    std::lock_guard lock(mu_);
    for (const auto& family : counters_) family->render(out);
    for (const auto& family : histograms_) family->render(out);
  }
  // Samples of one gauge name must be consecutive, under one HELP and TYPE.
  std::vector<std::string> done;
  for (const auto& first : gauges) {
    if (std::find(done.begin(), done.end(), first.name) != done.end()) continue;
    done.push_back(first.name);
    assert(valid_name(first.name));
    header(out, first.name, first.help, "gauge");
    for (const auto& sample : gauges) {
      if (sample.name != first.name) continue;
      std::vector<std::string> names;
      Labels values;
      for (const auto& [n, v] : sample.labels) {
        names.push_back(n);
        values.push_back(v);
      }
      out += sample.name + label_text(names, values) + " " + format_value(sample.value) + "\n";
    }
  }
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return std::to_string(static_cast<int64_t>(value));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

}  // namespace keystep::metrics
