#include "authority/credential_table.h"

#include <algorithm>
#include <tuple>

namespace authd::authority {

// One credential in its shard: its fields are bytes_[offset, offset + sum of
// len) in the order client_id, name, role, secret_mac, created_by.
struct CredentialTable::Entry {
  uint32_t offset = 0;
  std::array<uint16_t, 5> len = {};
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t rank = 0;  // newest first among equal created_at: lower is newer
};

struct CredentialTable::Shard {
  std::string bytes;
  std::vector<Entry> entries;  // sorted by client id

  std::string_view IdOf(const Entry& e) const {
    return std::string_view(bytes).substr(e.offset, e.len[0]);
  }
  // The first entry whose id is not less than `id`.
  std::vector<Entry>::const_iterator LowerBound(std::string_view id) const {
    return std::lower_bound(
        entries.begin(), entries.end(), id,
        [&](const Entry& e, std::string_view k) { return IdOf(e) < k; });
  }
};

// The shard-local part of a Builder: filled in storage order, sorted once.
struct CredentialTable::Builder::Pending {
  Shard shard;
};

namespace {

// FNV-1a: client ids are issued at random, so a simple hash spreads them.
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

storage::Credential CredentialRef::ToCredential() const {
  storage::Credential c;
  c.client_id = std::string(client_id);
  c.name = std::string(name);
  c.role = std::string(role);
  c.secret_mac = std::string(secret_mac);
  c.created_at = created_at;
  c.expires_at = expires_at;
  c.created_by = std::string(created_by);
  return c;
}

size_t CredentialTable::ShardOf(std::string_view client_id) {
  return Fnv1a(client_id) & (kShards - 1);
}

const CredentialTable::ShardPtr& CredentialTable::EmptyShard() {
  static const ShardPtr* empty = new ShardPtr(std::make_shared<Shard>());
  return *empty;
}

CredentialTable::Ref CredentialTable::RefOf(const Shard& shard,
                                            const Entry& e) {
  std::string_view all(shard.bytes);
  std::array<std::string_view, 5> f;
  size_t at = e.offset;
  for (size_t i = 0; i < f.size(); ++i) {
    f[i] = all.substr(at, e.len[i]);
    at += e.len[i];
  }
  return Ref{f[0], f[1], f[2], f[3], f[4], e.created_at, e.expires_at};
}

namespace {

// Appends `c`'s fields to `bytes` and returns its entry (rank unset).
template <typename Entry>
StatusOr<Entry> Append(std::string& bytes, const storage::Credential& c) {
  const std::string* fields[] = {&c.client_id, &c.secret_mac, &c.name, &c.role,
                                 &c.created_by};
  for (const std::string* f : fields) {
    if (f->size() > CredentialTable::kMaxField) {
      return Status::InvalidArgument(
          "has a field longer than " +
          std::to_string(CredentialTable::kMaxField) + " bytes");
    }
  }
  Entry e;
  e.offset = static_cast<uint32_t>(bytes.size());
  e.len = {static_cast<uint16_t>(c.client_id.size()),
           static_cast<uint16_t>(c.name.size()),
           static_cast<uint16_t>(c.role.size()),
           static_cast<uint16_t>(c.secret_mac.size()),
           static_cast<uint16_t>(c.created_by.size())};
  bytes += c.client_id;
  bytes += c.name;
  bytes += c.role;
  bytes += c.secret_mac;
  bytes += c.created_by;
  e.created_at = c.created_at;
  e.expires_at = c.expires_at;
  return e;
}

}  // namespace

CredentialTable::CredentialTable() : shards_(kShards, EmptyShard()) {}

CredentialTable::Builder::Builder() : shards_(kShards) {}
CredentialTable::Builder::~Builder() = default;

Status CredentialTable::Builder::Add(const storage::Credential& c) {
  Shard& s = shards_[ShardOf(c.client_id)].shard;
  ASSIGN_OR_RETURN(Entry e, Append<Entry>(s.bytes, c));
  e.rank = rank_++;
  s.entries.push_back(e);
  return Status::Ok();
}

CredentialTable CredentialTable::Builder::Build() && {
  CredentialTable t;
  for (size_t i = 0; i < kShards; ++i) {
    Shard& s = shards_[i].shard;
    if (s.entries.empty()) continue;
    std::sort(
        s.entries.begin(), s.entries.end(),
        [&](const Entry& a, const Entry& b) { return s.IdOf(a) < s.IdOf(b); });
    auto packed = std::make_shared<Shard>();
    packed->bytes = std::string(s.bytes);  // exact size, not the growth slack
    packed->entries.assign(s.entries.begin(), s.entries.end());
    s = Shard();  // frees the slack now, not at the end of the build
    t.size_ += packed->entries.size();
    t.shards_[i] = std::move(packed);
  }
  return t;
}

CredentialTable::const_iterator CredentialTable::find(
    std::string_view client_id) const {
  size_t i = ShardOf(client_id);
  const Shard& s = *shards_[i];
  auto it = s.LowerBound(client_id);
  if (it == s.entries.end() || s.IdOf(*it) != client_id) return end();
  return const_iterator(this, i, it - s.entries.begin());
}

StatusOr<CredentialTable> CredentialTable::With(
    const storage::Credential& c) const {
  size_t i = ShardOf(c.client_id);
  const Shard& old = *shards_[i];
  auto at = old.LowerBound(c.client_id);
  if (at != old.entries.end() && old.IdOf(*at) == c.client_id) {
    return Status::AlreadyExists("credential " + c.client_id + " exists");
  }
  auto s = std::make_shared<Shard>();
  s->bytes.reserve(old.bytes.size() + c.client_id.size() + c.name.size() +
                   c.role.size() + c.secret_mac.size() + c.created_by.size());
  s->bytes = old.bytes;
  ASSIGN_OR_RETURN(Entry e, Append<Entry>(s->bytes, c));
  CredentialTable t = *this;
  e.rank = t.next_rank_--;
  s->entries.reserve(old.entries.size() + 1);
  s->entries.assign(old.entries.begin(), at);
  s->entries.push_back(e);
  s->entries.insert(s->entries.end(), at, old.entries.end());
  t.shards_[i] = std::move(s);
  ++t.size_;
  return t;
}

CredentialTable CredentialTable::Without(std::string_view client_id) const {
  size_t i = ShardOf(client_id);
  const Shard& old = *shards_[i];
  auto at = old.LowerBound(client_id);
  if (at == old.entries.end() || old.IdOf(*at) != client_id) return *this;
  // Rebuilt without the removed bytes, so deletions leave no garbage.
  auto s = std::make_shared<Shard>();
  s->entries.reserve(old.entries.size() - 1);
  s->bytes.reserve(old.bytes.size());
  for (auto it = old.entries.begin(); it != old.entries.end(); ++it) {
    if (it == at) continue;
    Entry e = *it;
    size_t n = 0;
    for (uint16_t l : e.len) n += l;
    e.offset = static_cast<uint32_t>(s->bytes.size());
    s->bytes.append(old.bytes, it->offset, n);
    s->entries.push_back(e);
  }
  s->bytes.shrink_to_fit();
  CredentialTable t = *this;
  t.shards_[i] = s->entries.empty() ? EmptyShard() : std::move(s);
  --t.size_;
  return t;
}

std::vector<storage::Credential> CredentialTable::NewestFirst() const {
  // (shard, entry) pairs sorted, then copied out: 8 bytes a credential for
  // the sort rather than a copy of each.
  std::vector<std::pair<uint32_t, uint32_t>> order;
  order.reserve(size_);
  for (size_t i = 0; i < kShards; ++i) {
    for (size_t j = 0; j < shards_[i]->entries.size(); ++j) {
      order.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(j));
    }
  }
  auto key = [&](const std::pair<uint32_t, uint32_t>& p) {
    const Entry& e = shards_[p.first]->entries[p.second];
    return std::make_tuple(-e.created_at, e.rank);
  };
  std::sort(order.begin(), order.end(),
            [&](const auto& a, const auto& b) { return key(a) < key(b); });
  std::vector<storage::Credential> out;
  out.reserve(order.size());
  for (const auto& [i, j] : order) {
    out.push_back(RefOf(*shards_[i], shards_[i]->entries[j]).ToCredential());
  }
  return out;
}

CredentialTable::const_iterator::const_iterator(const CredentialTable* table,
                                                size_t shard, size_t entry)
    : table_(table), shard_(shard), entry_(entry) {
  Settle();
}

CredentialTable::const_iterator& CredentialTable::const_iterator::operator++() {
  ++entry_;
  Settle();
  return *this;
}

void CredentialTable::const_iterator::Settle() {
  while (shard_ < kShards &&
         entry_ >= table_->shards_[shard_]->entries.size()) {
    ++shard_;
    entry_ = 0;
  }
  if (shard_ == kShards) return;
  const Shard& s = *table_->shards_[shard_];
  Ref r = RefOf(s, s.entries[entry_]);
  current_ = {r.client_id, r};
}

}  // namespace authd::authority
