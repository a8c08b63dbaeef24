// Merkle tree hashing, proof generation and proof verification for the audit
// log, exactly as RFC 9162 §2.1 defines them (SHA-256, leaf prefix 0x00, node
// prefix 0x01), so any Certificate Transparency style verifier can check
// authd's log. All hashes are raw 32-byte strings, never hex or base64.
//
// Free functions are pure; MerkleFrontier is a value type (not internally
// synchronized: guard a shared instance yourself).
#ifndef AUTHD_AUDIT_MERKLE_H_
#define AUTHD_AUDIT_MERKLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace authd::audit {

inline constexpr size_t kMerkleHashSize = 32;  // SHA-256

// RFC 9162 §2.1.1: SHA-256(0x00 || leaf).
std::string LeafHash(std::string_view leaf);
// RFC 9162 §2.1.1: SHA-256(0x01 || left || right).
std::string NodeHash(std::string_view left, std::string_view right);
// MTH({}) = SHA-256() (RFC 9162 §2.1.1).
std::string EmptyTreeHash();

// MTH over the given leaf hashes (each already LeafHash()ed).
std::string RootFromLeafHashes(const std::vector<std::string>& leaf_hashes);

// PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, from the leaf's sibling up to
// the root's child. Uses leaf_hashes[0:size]. O(size) time.
// Errors: InvalidArgument unless index < size <= leaf_hashes.size().
StatusOr<std::vector<std::string>> InclusionProof(
    const std::vector<std::string>& leaf_hashes, uint64_t index, uint64_t size);

// PROOF(from, D[0:to]) of RFC 9162 §2.1.4.1 (SUBPROOF with b = true). Uses
// leaf_hashes[0:to]. from == to yields an empty proof. O(to) time.
// Errors: InvalidArgument unless 0 < from <= to <= leaf_hashes.size(); a
// proof from the empty tree is not defined (and VerifyConsistency rejects it).
StatusOr<std::vector<std::string>> ConsistencyProof(
    const std::vector<std::string>& leaf_hashes, uint64_t from, uint64_t to);

// RFC 9162 §2.1.3.2. OK when `proof` shows that `leaf_hash` is leaf `index` of
// the tree of `size` leaves whose root is `root`; InvalidArgument (with the
// reason) otherwise. Every proof element and the leaf hash must be 32 bytes.
Status VerifyInclusion(uint64_t index, uint64_t size,
                       std::string_view leaf_hash,
                       const std::vector<std::string>& proof,
                       std::string_view root);

// RFC 9162 §2.1.4.2. OK when `proof` shows the tree (size2, root2) extends the
// tree (size1, root1); InvalidArgument (with the reason) otherwise.
// Beyond the RFC's algorithm, which is only defined for 0 < size1 < size2:
//  - size1 == size2 > 0 is accepted iff the proof is empty and the roots are
//    byte-equal (RFC 9162 §2.1.4.1 gives an empty proof for m == n);
//  - size1 == 0 is always rejected: every tree extends the empty tree, so such
//    a "proof" proves nothing and a caller relying on it has a bug;
//  - size1 > size2 is rejected.
Status VerifyConsistency(uint64_t size1, uint64_t size2,
                         const std::vector<std::string>& proof,
                         std::string_view root1, std::string_view root2);

// A complete subtree: the leaves [index << level, (index + 1) << level).
// Level 0 is a leaf hash; its hash never changes once the tree holds it.
struct MerkleNodeId {
  uint32_t level = 0;
  uint64_t index = 0;
  bool operator==(const MerkleNodeId&) const = default;
};

// The leaves [lo, hi) of one subtree that a proof lists.
struct MerkleRange {
  uint64_t lo = 0, hi = 0;
  bool operator==(const MerkleRange&) const = default;
};

// The subtrees whose hashes PATH(index, D[0:size]) (RFC 9162 §2.1.3.1)
// lists, in proof order. REQUIRES: index < size.
std::vector<MerkleRange> InclusionRanges(uint64_t index, uint64_t size);
// The subtrees whose hashes PROOF(from, D[0:to]) (RFC 9162 §2.1.4.1) lists,
// in proof order. REQUIRES: 0 < from <= to.
std::vector<MerkleRange> ConsistencyRanges(uint64_t from, uint64_t to);
// The complete subtrees that make up [lo, hi), largest (leftmost) first: one
// per set bit of hi - lo. Every range a proof lists is aligned so (lo is a
// multiple of bit_ceil(hi - lo)). REQUIRES: lo < hi, aligned as said.
std::vector<MerkleNodeId> RangeNodes(MerkleRange range);
// MTH of a range from the hashes of its RangeNodes, in that order: folded
// right to left like MerkleFrontier::Root(). REQUIRES: !hashes.empty().
std::string FoldRange(const std::string* hashes, size_t count);

// Reads the hashes of complete subtrees, in the order asked; an error when
// one is not stored.
using MerkleNodeReader = std::function<StatusOr<std::vector<std::string>>(
    const std::vector<MerkleNodeId>&)>;
// The hash of each range from stored complete subtrees, with one call to
// `read`: O(log n) nodes for the ranges of one proof. Errors: what `read`
// returns, Internal when it answers with the wrong number of hashes.
StatusOr<std::vector<std::string>> RangeHashes(
    const std::vector<MerkleRange>& ranges, const MerkleNodeReader& read);

// The compact range [0, size): one hash per set bit of size, the roots of the
// perfect subtrees along the tree's right edge, largest (leftmost) first.
// Lets a writer append and compute the new root in O(log n) without rereading
// any leaf.
class MerkleFrontier {
 public:
  MerkleFrontier() = default;  // the empty tree

  // A complete subtree above the leaves and its hash.
  struct Node {
    MerkleNodeId id;
    std::string hash;
  };
  // Appends one leaf hash (already LeafHash()ed). Each subtree of two or
  // more leaves this completes is appended to `completed` when given
  // (lowest first), so a writer can store them.
  // REQUIRES: leaf_hash.size() == kMerkleHashSize
  void Append(std::string_view leaf_hash,
              std::vector<Node>* completed = nullptr);
  // The complete subtree each of hashes() is the root of.
  std::vector<MerkleNodeId> NodeIds() const;
  uint64_t size() const { return size_; }
  // MTH of all leaves appended so far (RFC 9162 §2.1.1).
  std::string Root() const;
  // Subtree roots, largest first; popcount(size()) entries.
  const std::vector<std::string>& hashes() const { return hashes_; }

  // Format: 8-byte big-endian size || the popcount(size) 32-byte hashes,
  // largest subtree first.
  std::string Serialize() const;
  // Errors: InvalidArgument when the length does not match the size prefix.
  static StatusOr<MerkleFrontier> Parse(std::string_view bytes);

 private:
  uint64_t size_ = 0;
  std::vector<std::string> hashes_;
};

}  // namespace authd::audit

#endif  // AUTHD_AUDIT_MERKLE_H_
