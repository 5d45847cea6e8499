#pragma once
// ReadMemo: the rows one request has read, so that reading the same user, account, client or
// user's credentials again while serving it costs no database transaction.
//
// A sign-in's six requests read the same few rows over and over (the user 7 times, the account
// 7, the client 5, the user's credentials 5: 32 read transactions per sign-in), because each
// step of the IdP loads what it needs rather than being handed it. Within one request, reading
// a row a second time and using the first answer are the same thing: no request relies on
// seeing another request's write between two of its own reads (every decision that races
// other requests is a compare-and-set in a write transaction). So a store serves these reads
// from the memo of the request in progress, and forgets all of it as soon as the request
// commits a write of its own, after which it reads again.
//
// A ReadMemoScope on the thread that serves the request makes the memo; outside one
// (background workers, the CLI) nothing is remembered. Nothing outlives the request.
//
// Thread-safety: a memo belongs to the thread that made its scope.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "idp/store/model.h"
#include "plugin/mfa_provider.h"

namespace keystep {

struct ReadMemo {
  std::unordered_map<int64_t, User> users;
  std::unordered_map<int64_t, Account> accounts;
  std::unordered_map<std::string, Client> clients;
  std::unordered_map<int64_t, std::vector<MfaCredential>> credentials;  // by user id

  // The memo of the request this thread is serving, or nullptr.
  static ReadMemo* current() { return t_current; }
  // A store calls this when this thread commits a write: what the request read may be stale.
  static void forget() {
    if (t_current != nullptr) *t_current = ReadMemo{};
  }

 private:
  friend class ReadMemoScope;
  static inline thread_local ReadMemo* t_current = nullptr;
};

// Serves the reads of this thread from a fresh memo until destroyed (scopes nest: the inner
// one has a memo of its own).
class ReadMemoScope {
 public:
  ReadMemoScope() : previous_(ReadMemo::t_current) { ReadMemo::t_current = &memo_; }
  ~ReadMemoScope() { ReadMemo::t_current = previous_; }
  ReadMemoScope(const ReadMemoScope&) = delete;
  ReadMemoScope& operator=(const ReadMemoScope&) = delete;

 private:
  ReadMemo memo_;
  ReadMemo* previous_;
};

// `(memo->*table)[key]` when the request read it already, else `load()`, remembered when found.
template <typename Key, typename Row, typename Load>
Result<Row> remembered(std::unordered_map<Key, Row> ReadMemo::*table, const Key& key, Load&& load) {
  ReadMemo* memo = ReadMemo::current();
  if (memo != nullptr) {
    auto it = (memo->*table).find(key);
    if (it != (memo->*table).end()) return it->second;
  }
  Result<Row> loaded = load();
  // Looked up again: load() may have committed a write (forget()) meanwhile.
  if (loaded && (memo = ReadMemo::current()) != nullptr) (memo->*table).insert_or_assign(key, *loaded);
  return loaded;
}

}  // namespace keystep
