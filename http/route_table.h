#pragma once
// A route table: (method, path pattern) -> handler, and the answer an HTTP router owes when no
// route fits: 404 for a path no pattern matches, 405 with an Allow header for a path that
// matches but not with this method. No Pistache here: the table only finds; the caller answers.
//
// A pattern is a path whose segments are literal or a variable "{name}", which matches any one
// segment (also an empty one): "/api/v1/accounts/{account}/tokens/{token}". Patterns are tried
// in the order they were first added; the first that matches the path decides, with or without
// this method. Not thread-safe while adding; finding is const and may run on any thread.

#include <cassert>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keystep::http {

// The methods a route may name. kOptions is served only where browsers send CORS preflights.
// kOther stands for any other method (PATCH, …): no route serves it, so it always finds 405
// or 404.
enum class Method { kGet, kHead, kPost, kPut, kDelete, kOptions, kOther };

// "GET" -> kGet … ; any other name -> kOther.
Method method_from_name(std::string_view name);
// kGet -> "GET" … ; kOther -> "OTHER".
std::string_view method_name(Method method);

// The segments of `path` after its leading '/', split at every '/', empty ones kept:
// "/a//b/" -> {"a", "", "b", ""}, "/" -> {""}.
std::vector<std::string_view> path_segments(std::string_view path);

// The Allow header for a route serving `methods`: GET, POST, PUT, DELETE, OPTIONS in this
// order, joined by ", ". HEAD is never named: it is served only beside GET, as GET's head.
std::string allow_header(const std::vector<Method>& methods);

// A path pattern and the methods served on it.
struct RouteInfo {
  std::string pattern;
  std::vector<Method> methods;
};

template <class Handler>
class RouteTable {
 public:
  // With `ignore_trailing_slash`, "/x/y/" is looked up as "/x/y" (the admin API has always
  // done so); without it "/x/y/" is a path of its own.
  explicit RouteTable(bool ignore_trailing_slash = false)
      : ignore_trailing_slash_(ignore_trailing_slash) {}

  // Serves `methods` on `pattern` with `handler`. A method is added at most once per pattern.
  RouteTable& add(std::initializer_list<Method> methods, std::string_view pattern,
                  Handler handler) {
    Path* path = nullptr;
    for (auto& p : paths_)
      if (p.pattern == pattern) path = &p;
    if (!path) {
      paths_.push_back(Path{std::string(pattern), {}, {}});
      path = &paths_.back();
      for (const auto segment : path_segments(path->pattern))
        path->segments.push_back(std::string(segment));
    }
    for (const Method m : methods) {
      assert(m != Method::kOther && !serves(*path, m));
      path->handlers.emplace_back(m, handler);
    }
    return *this;
  }

  struct Found {
    enum class Kind { kServed, kWrongMethod, kNotFound };
    Kind kind = Kind::kNotFound;
    // The matching pattern (the route label of logs and metrics); empty for kNotFound.
    std::string_view pattern;
    // kServed: the handler and the values of the pattern's variables, in order.
    const Handler* handler = nullptr;
    std::vector<std::string> variables;
    // kWrongMethod: the Allow header.
    std::string allow;
  };

  Found find(Method method, std::string_view path) const {
    Found found;
    if (path.empty() || path.front() != '/') return found;
    auto segments = path_segments(path);
    if (ignore_trailing_slash_ && path.size() > 1 && path.back() == '/') segments.pop_back();
    for (const auto& route : paths_) {
      if (!matches(route, segments, found.variables)) continue;
      found.pattern = route.pattern;
      std::vector<Method> methods;
      for (const auto& [m, handler] : route.handlers) {
        if (m == method) {
          found.kind = Found::Kind::kServed;
          found.handler = &handler;
          return found;
        }
        methods.push_back(m);
      }
      found.kind = Found::Kind::kWrongMethod;
      found.allow = allow_header(methods);
      found.variables.clear();
      return found;
    }
    found.variables.clear();
    return found;
  }

  // Every pattern with its methods, in lookup order (for tests and documentation).
  std::vector<RouteInfo> routes() const {
    std::vector<RouteInfo> out;
    for (const auto& route : paths_) {
      out.push_back(RouteInfo{route.pattern, {}});
      for (const auto& handler : route.handlers) out.back().methods.push_back(handler.first);
    }
    return out;
  }

 private:
  struct Path {
    std::string pattern;
    std::vector<std::string> segments;
    std::vector<std::pair<Method, Handler>> handlers;
  };

  static bool serves(const Path& route, Method method) {
    for (const auto& handler : route.handlers)
      if (handler.first == method) return true;
    return false;
  }

  static bool matches(const Path& route, const std::vector<std::string_view>& segments,
                      std::vector<std::string>& variables) {
    variables.clear();
    if (route.segments.size() != segments.size()) return false;
    for (size_t i = 0; i < segments.size(); ++i) {
      const std::string& want = route.segments[i];
      if (want.size() >= 2 && want.front() == '{' && want.back() == '}') {
        variables.emplace_back(segments[i]);
      } else if (want != segments[i]) {
        return false;
      }
    }
    return true;
  }

  bool ignore_trailing_slash_;
  std::vector<Path> paths_;
};

}  // namespace keystep::http
