#include "audit/merkle.h"

#include <openssl/sha.h>

#include <bit>
#include <string>

#include "common/sha256.h"

namespace authd::audit {
namespace {

// The k of RFC 9162 §2.1.1: the largest power of two smaller than n.
// REQUIRES: n >= 2
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// MTH(D[lo:hi]) over leaf hashes. Recursion depth is O(log n).
std::string SubtreeHash(const std::vector<std::string>& h, uint64_t lo,
                        uint64_t hi) {
  uint64_t n = hi - lo;
  if (n == 0) return EmptyTreeHash();
  if (n == 1) return h[lo];
  uint64_t k = SplitPoint(n);
  return NodeHash(SubtreeHash(h, lo, lo + k), SubtreeHash(h, lo + k, hi));
}

// PATH(m, D[lo:hi]), RFC 9162 §2.1.3.1.
void Path(const std::vector<std::string>& h, uint64_t m, uint64_t lo,
          uint64_t hi, std::vector<std::string>* out) {
  uint64_t n = hi - lo;
  if (n <= 1) return;
  uint64_t k = SplitPoint(n);
  if (m < k) {
    Path(h, m, lo, lo + k, out);
    out->push_back(SubtreeHash(h, lo + k, hi));
  } else {
    Path(h, m - k, lo + k, hi, out);
    out->push_back(SubtreeHash(h, lo, lo + k));
  }
}

// SUBPROOF(m, D[lo:hi], b), RFC 9162 §2.1.4.1. REQUIRES: 0 < m <= hi - lo
void Subproof(const std::vector<std::string>& h, uint64_t m, uint64_t lo,
              uint64_t hi, bool b, std::vector<std::string>* out) {
  uint64_t n = hi - lo;
  if (m == n) {
    if (!b) out->push_back(SubtreeHash(h, lo, hi));
    return;
  }
  uint64_t k = SplitPoint(n);
  if (m <= k) {
    Subproof(h, m, lo, lo + k, b, out);
    out->push_back(SubtreeHash(h, lo + k, hi));
  } else {
    Subproof(h, m - k, lo + k, hi, false, out);
    out->push_back(SubtreeHash(h, lo, lo + k));
  }
}

Status CheckHashSizes(const std::vector<std::string>& proof) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (proof[i].size() != kMerkleHashSize) {
      return Status::InvalidArgument("proof element " + std::to_string(i) +
                                     " is " + std::to_string(proof[i].size()) +
                                     " bytes, not 32");
    }
  }
  return Status::Ok();
}

// Right-shifts fn and sn equally until LSB(fn) is set or fn is 0 (the inner
// step shared by RFC 9162 §2.1.3.2 and §2.1.4.2).
void ShiftUntilOddOrZero(uint64_t& fn, uint64_t& sn) {
  while (fn != 0 && (fn & 1) == 0) {
    fn >>= 1;
    sn >>= 1;
  }
}

// The ranges of PATH(m, D[lo:hi]), as Path() lists their hashes.
void PathRanges(uint64_t m, uint64_t lo, uint64_t hi,
                std::vector<MerkleRange>* out) {
  uint64_t n = hi - lo;
  if (n <= 1) return;
  uint64_t k = SplitPoint(n);
  if (m < k) {
    PathRanges(m, lo, lo + k, out);
    out->push_back({lo + k, hi});
  } else {
    PathRanges(m - k, lo + k, hi, out);
    out->push_back({lo, lo + k});
  }
}

// The ranges of SUBPROOF(m, D[lo:hi], b), as Subproof() lists their hashes.
void SubproofRanges(uint64_t m, uint64_t lo, uint64_t hi, bool b,
                    std::vector<MerkleRange>* out) {
  uint64_t n = hi - lo;
  if (m == n) {
    if (!b) out->push_back({lo, hi});
    return;
  }
  uint64_t k = SplitPoint(n);
  if (m <= k) {
    SubproofRanges(m, lo, lo + k, b, out);
    out->push_back({lo + k, hi});
  } else {
    SubproofRanges(m - k, lo + k, hi, false, out);
    out->push_back({lo, lo + k});
  }
}

}  // namespace

std::vector<MerkleRange> InclusionRanges(uint64_t index, uint64_t size) {
  std::vector<MerkleRange> out;
  PathRanges(index, 0, size, &out);
  return out;
}

std::vector<MerkleRange> ConsistencyRanges(uint64_t from, uint64_t to) {
  std::vector<MerkleRange> out;
  SubproofRanges(from, 0, to, true, &out);
  return out;
}

std::vector<MerkleNodeId> RangeNodes(MerkleRange range) {
  std::vector<MerkleNodeId> out;
  uint64_t pos = range.lo;
  uint64_t n = range.hi - range.lo;
  for (int level = 63; level >= 0; --level) {
    uint64_t width = uint64_t{1} << level;
    if ((n & width) == 0) continue;
    out.push_back({static_cast<uint32_t>(level), pos >> level});
    pos += width;
  }
  return out;
}

std::string FoldRange(const std::string* hashes, size_t count) {
  std::string r = hashes[count - 1];
  for (size_t i = count - 1; i-- > 0;) r = NodeHash(hashes[i], r);
  return r;
}

StatusOr<std::vector<std::string>> RangeHashes(
    const std::vector<MerkleRange>& ranges, const MerkleNodeReader& read) {
  std::vector<MerkleNodeId> ids;
  std::vector<size_t> counts;
  for (const MerkleRange& r : ranges) {
    std::vector<MerkleNodeId> nodes = RangeNodes(r);
    counts.push_back(nodes.size());
    ids.insert(ids.end(), nodes.begin(), nodes.end());
  }
  std::vector<std::string> out;
  if (ids.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<std::string> hashes, read(ids));
  if (hashes.size() != ids.size()) {
    return Status::Internal("asked for " + std::to_string(ids.size()) +
                            " Merkle nodes, got " +
                            std::to_string(hashes.size()));
  }
  size_t at = 0;
  for (size_t count : counts) {
    out.push_back(FoldRange(hashes.data() + at, count));
    at += count;
  }
  return out;
}

std::string LeafHash(std::string_view leaf) {
  std::string buf;
  buf.reserve(1 + leaf.size());
  buf.push_back('\x00');
  buf.append(leaf);
  return Sha256(buf);
}

std::string NodeHash(std::string_view left, std::string_view right) {
  std::string buf;
  buf.reserve(1 + left.size() + right.size());
  buf.push_back('\x01');
  buf.append(left);
  buf.append(right);
  return Sha256(buf);
}

std::string EmptyTreeHash() { return Sha256(""); }

std::string RootFromLeafHashes(const std::vector<std::string>& leaf_hashes) {
  return SubtreeHash(leaf_hashes, 0, leaf_hashes.size());
}

StatusOr<std::vector<std::string>> InclusionProof(
    const std::vector<std::string>& leaf_hashes, uint64_t index,
    uint64_t size) {
  if (size > leaf_hashes.size()) {
    return Status::InvalidArgument(
        "inclusion proof asked for tree size " + std::to_string(size) +
        " but only " + std::to_string(leaf_hashes.size()) + " leaves exist");
  }
  if (index >= size) {
    return Status::InvalidArgument("leaf index " + std::to_string(index) +
                                   " is not below tree size " +
                                   std::to_string(size));
  }
  std::vector<std::string> proof;
  Path(leaf_hashes, index, 0, size, &proof);
  return proof;
}

StatusOr<std::vector<std::string>> ConsistencyProof(
    const std::vector<std::string>& leaf_hashes, uint64_t from, uint64_t to) {
  if (to > leaf_hashes.size()) {
    return Status::InvalidArgument(
        "consistency proof asked for tree size " + std::to_string(to) +
        " but only " + std::to_string(leaf_hashes.size()) + " leaves exist");
  }
  if (from == 0 || from > to) {
    return Status::InvalidArgument(
        "consistency proof needs 0 < from <= to (RFC 9162 §2.1.4), got from " +
        std::to_string(from) + " to " + std::to_string(to));
  }
  std::vector<std::string> proof;
  Subproof(leaf_hashes, from, 0, to, true, &proof);
  return proof;
}

Status VerifyInclusion(uint64_t index, uint64_t size,
                       std::string_view leaf_hash,
                       const std::vector<std::string>& proof,
                       std::string_view root) {
  const std::string where = "inclusion proof for leaf " +
                            std::to_string(index) + " in tree of size " +
                            std::to_string(size);
  // Step 1.
  if (index >= size) {
    return Status::InvalidArgument(where + ": leaf index not below tree size");
  }
  if (leaf_hash.size() != kMerkleHashSize) {
    return Status::InvalidArgument(where + ": leaf hash is " +
                                   std::to_string(leaf_hash.size()) +
                                   " bytes, not 32");
  }
  RETURN_IF_ERROR(CheckHashSizes(proof).WithContext(where));
  // Steps 2-4.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) {
      return Status::InvalidArgument(where + ": proof has too many elements (" +
                                     std::to_string(proof.size()) + ")");
    }
    if ((fn & 1) == 1 || fn == sn) {
      r = NodeHash(p, r);
      ShiftUntilOddOrZero(fn, sn);
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // Step 5.
  if (sn != 0) {
    return Status::InvalidArgument(where + ": proof has too few elements (" +
                                   std::to_string(proof.size()) + ")");
  }
  if (r != root) {
    return Status::InvalidArgument(where +
                                   ": computed root does not match the root");
  }
  return Status::Ok();
}

namespace {

// RFC 9162 §2.1.4.2 steps 2-7 for 0 < size1 < size2: the first and second
// roots that `proof` implies. Errors name only the defect; the caller adds
// which proof it was.
StatusOr<std::pair<std::string, std::string>> ConsistencyRoots(
    uint64_t size1, uint64_t size2, const std::vector<std::string>& proof,
    std::string_view root1) {
  // Step 2: a power-of-two first tree is itself a node of the second tree,
  // so its root is the implicit first element of the path.
  std::vector<std::string> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) path.emplace_back(root1);
  path.insert(path.end(), proof.begin(), proof.end());
  // Steps 3-4.
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  // Steps 5-6.
  std::string fr = path[0];
  std::string sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) {
      return Status::InvalidArgument("proof has too many elements (" +
                                     std::to_string(proof.size()) + ")");
    }
    if ((fn & 1) == 1 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      ShiftUntilOddOrZero(fn, sn);
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // Step 7.
  if (sn != 0) {
    return Status::InvalidArgument("proof has too few elements (" +
                                   std::to_string(proof.size()) + ")");
  }
  return std::pair{std::move(fr), std::move(sr)};
}

}  // namespace

Status VerifyConsistency(uint64_t size1, uint64_t size2,
                         const std::vector<std::string>& proof,
                         std::string_view root1, std::string_view root2) {
  const std::string where = "consistency proof from tree size " +
                            std::to_string(size1) + " to " +
                            std::to_string(size2);
  if (size1 > size2) {
    return Status::InvalidArgument(where + ": first size exceeds second");
  }
  if (size1 == 0) {
    return Status::InvalidArgument(
        where + ": a proof from the empty tree proves nothing");
  }
  if (size1 == size2) {
    if (!proof.empty()) {
      return Status::InvalidArgument(where + ": equal sizes need an empty " +
                                     "proof, got " +
                                     std::to_string(proof.size()) + " hashes");
    }
    if (root1 != root2) {
      return Status::InvalidArgument(where + ": equal sizes, different roots");
    }
    return Status::Ok();
  }
  // RFC 9162 §2.1.4.2 from here on; 0 < size1 < size2. Step 1.
  if (proof.empty()) {
    return Status::InvalidArgument(where + ": proof is empty");
  }
  RETURN_IF_ERROR(CheckHashSizes(proof).WithContext(where));
  auto roots = ConsistencyRoots(size1, size2, proof, root1);
  if (!roots.ok()) return roots.status().WithContext(where);
  if (roots->first != root1) {
    return Status::InvalidArgument(
        where + ": computed first root does not match the first root");
  }
  if (roots->second != root2) {
    return Status::InvalidArgument(
        where + ": computed second root does not match the second root");
  }
  return Status::Ok();
}

void MerkleFrontier::Append(std::string_view leaf_hash,
                            std::vector<Node>* completed) {
  hashes_.emplace_back(leaf_hash);
  // Each trailing 1 bit of the old size is a perfect subtree of the same
  // height as the one just completed; merge them pairwise. The merge at
  // level l completes the subtree of 2^l leaves ending at the new size.
  uint32_t level = 0;
  for (uint64_t s = size_; (s & 1) == 1; s >>= 1) {
    std::string right = std::move(hashes_.back());
    hashes_.pop_back();
    hashes_.back() = NodeHash(hashes_.back(), right);
    ++level;
    if (completed != nullptr) {
      completed->push_back(
          {{level, ((size_ + 1) >> level) - 1}, hashes_.back()});
    }
  }
  ++size_;
}

std::vector<MerkleNodeId> MerkleFrontier::NodeIds() const {
  return RangeNodes({0, size_});
}

std::string MerkleFrontier::Root() const {
  if (hashes_.empty()) return EmptyTreeHash();
  // MTH splits at the largest power of two, so the root folds the right-edge
  // subtrees from the smallest (rightmost) to the largest.
  std::string r = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) r = NodeHash(hashes_[i], r);
  return r;
}

std::string MerkleFrontier::Serialize() const {
  std::string out;
  out.reserve(8 + hashes_.size() * kMerkleHashSize);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((size_ >> shift) & 0xff));
  }
  for (const std::string& h : hashes_) out.append(h);
  return out;
}

StatusOr<MerkleFrontier> MerkleFrontier::Parse(std::string_view bytes) {
  if (bytes.size() < 8) {
    return Status::InvalidArgument("Merkle frontier shorter than its header");
  }
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i) {
    size = (size << 8) | static_cast<unsigned char>(bytes[i]);
  }
  size_t count = static_cast<size_t>(std::popcount(size));
  if (bytes.size() != 8 + count * kMerkleHashSize) {
    return Status::InvalidArgument(
        "Merkle frontier for size " + std::to_string(size) + " must be " +
        std::to_string(8 + count * kMerkleHashSize) + " bytes, got " +
        std::to_string(bytes.size()));
  }
  MerkleFrontier f;
  f.size_ = size;
  f.hashes_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    f.hashes_.emplace_back(
        bytes.substr(8 + i * kMerkleHashSize, kMerkleHashSize));
  }
  return f;
}

}  // namespace authd::audit
