// CredentialTable: the credentials of an Access snapshot, packed so that a
// million of them fit in about 120 bytes each, and persistent so that a
// change does not copy them.
//
// The table is kShards immutable shards chosen by a hash of the client id.
// A shard holds its credentials' text in one byte string and a fixed-size
// entry per credential (offsets, lengths, times), sorted by client id, so a
// lookup is one hash and a binary search over at most a few thousand
// entries. With() and Without() return a new table that shares every shard
// but the one they change: a change costs O(n / kShards + kShards), not
// O(n), and a reader holding the old table keeps seeing exactly the old
// credentials. Each credential's row MAC is checked before it enters the
// table and is not kept.
//
// The interface looks like a read-only map from client id to Ref, so the
// token path reads it as it read the std::unordered_map it replaces.
//
// Thread-safety: immutable once built; any number of threads may read a
// table, and copies share shards through atomic reference counts.
#ifndef AUTHD_AUTHORITY_CREDENTIAL_TABLE_H_
#define AUTHD_AUTHORITY_CREDENTIAL_TABLE_H_

#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "storage/storage.h"

namespace authd::authority {

// A credential as a CredentialTable holds it. The views stay valid while
// any table sharing its shard lives (hold the snapshot, not just the Ref).
struct CredentialRef {
  std::string_view client_id, name, role, secret_mac, created_by;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  // A copy as storage returns it, without the row's binding (mac,
  // audit_seq), which the table does not keep.
  storage::Credential ToCredential() const;
};

class CredentialTable {
 public:
  using Ref = CredentialRef;
  static constexpr size_t kShards = 1024;
  // The longest field a table stores; longer fields only come from an edited
  // database (authd's own limits are far lower).
  static constexpr size_t kMaxField = 65535;

  using value_type = std::pair<std::string_view, Ref>;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = CredentialTable::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() = default;
    reference operator*() const { return current_; }
    pointer operator->() const { return &current_; }
    const_iterator& operator++();
    bool operator==(const const_iterator& o) const {
      return shard_ == o.shard_ && entry_ == o.entry_;
    }

   private:
    friend class CredentialTable;
    const_iterator(const CredentialTable* table, size_t shard, size_t entry);
    void Settle();  // skips empty shards, loads current_

    const CredentialTable* table_ = nullptr;
    size_t shard_ = kShards;
    size_t entry_ = 0;
    value_type current_;
  };

  // Collects the rows of a load, in the order storage lists them (newest
  // first), and builds the table once.
  class Builder {
   public:
    Builder();
    ~Builder();
    // InvalidArgument when a field is longer than kMaxField. REQUIRES:
    // client ids distinct (the storage's primary key).
    Status Add(const storage::Credential& c);
    CredentialTable Build() &&;

   private:
    struct Pending;
    std::vector<Pending> shards_;
    int64_t rank_ = 0;
  };

  CredentialTable();  // empty

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return const_iterator(this, 0, 0); }
  const_iterator end() const { return const_iterator(); }
  const_iterator find(std::string_view client_id) const;
  size_t count(std::string_view client_id) const {
    return find(client_id) == end() ? 0 : 1;
  }

  // The table with `c` added as the newest credential; this one unchanged.
  // AlreadyExists when its client id is present, InvalidArgument when a
  // field is longer than kMaxField.
  StatusOr<CredentialTable> With(const storage::Credential& c) const;
  // The table without `client_id` (the same credentials if absent).
  CredentialTable Without(std::string_view client_id) const;

  // Every credential newest first, as SqliteStorage::ListCredentials orders
  // them (created_at descending, then the later insert first).
  std::vector<storage::Credential> NewestFirst() const;

 private:
  struct Entry;
  struct Shard;
  using ShardPtr = std::shared_ptr<const Shard>;

  static size_t ShardOf(std::string_view client_id);
  static const ShardPtr& EmptyShard();
  static Ref RefOf(const Shard& shard, const Entry& e);

  std::vector<ShardPtr> shards_;  // kShards, never null
  size_t size_ = 0;
  // Rank of the next credential added by With(): lower ranks are newer
  // among credentials created in the same second. Loaded rows rank 0, 1, ...
  int64_t next_rank_ = -1;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_CREDENTIAL_TABLE_H_
