#include "http/route_table.h"

#include <array>

namespace keystep::http {
namespace {

constexpr std::array<std::pair<Method, std::string_view>, 6> kNames = {
    {{Method::kGet, "GET"},
     {Method::kHead, "HEAD"},
     {Method::kPost, "POST"},
     {Method::kPut, "PUT"},
     {Method::kDelete, "DELETE"},
     {Method::kOptions, "OPTIONS"}}};

}  // namespace

Method method_from_name(std::string_view name) {
  for (const auto& [method, known] : kNames)
    if (name == known) return method;
  return Method::kOther;
}

std::string_view method_name(Method method) {
  for (const auto& [known, name] : kNames)
    if (method == known) return name;
  return "OTHER";
}

std::vector<std::string_view> path_segments(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::vector<std::string_view> segments;
  for (;;) {
    const auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

std::string allow_header(const std::vector<Method>& methods) {
  std::string allow;
  for (const Method m :
       {Method::kGet, Method::kPost, Method::kPut, Method::kDelete, Method::kOptions}) {
    bool served = false;
    for (const Method have : methods) served = served || have == m;
    if (!served) continue;
    if (!allow.empty()) allow += ", ";
    allow += method_name(m);
  }
  return allow;
}

}  // namespace keystep::http
