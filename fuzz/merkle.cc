// Merkle proofs as a verifier receives them (RFC 9162 §2.1.3.2, §2.1.4.2:
// the audit API's proof and consistency answers, proof files) and the
// frontier the HSM head stores. The input picks sizes, indexes and roots
// around a tree of up to 64 leaves built here, and supplies proof hashes,
// optionally starting from the true proof. Property: a proof verifies only
// when it is the true proof for the true root; MerkleFrontier::Parse
// accepts only what Serialize writes.
#include "audit/merkle.h"

#include <vector>

#include "fuzz/fuzz_util.h"

using namespace authd;
using audit::kMerkleHashSize;

namespace {

std::vector<std::string> Chunks(std::string_view bytes) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    out.emplace_back(bytes.substr(0, kMerkleHashSize));
    bytes.remove_prefix(out.back().size());
  }
  return out;
}

// The proof to present: the true one with one hash swapped for input bytes,
// or the input bytes alone.
std::vector<std::string> Presented(fuzz::Bytes& in,
                                   const StatusOr<std::vector<std::string>>& t,
                                   bool start_true) {
  if (!start_true || !t.ok()) return Chunks(in.Rest());
  std::vector<std::string> p = *t;
  uint8_t at = in.Byte();
  std::string_view swap = in.Rest();
  if (!p.empty() && !swap.empty()) p[at % p.size()] = std::string(swap);
  return p;
}

void Inclusion(fuzz::Bytes& in, const std::vector<std::string>& leaves,
               uint8_t mode) {
  uint64_t n = leaves.size();
  uint64_t index = mode & 8 ? in.U64() : in.Byte() % (n + 2);
  uint64_t size = mode & 8 ? in.U64() : in.Byte() % (n + 2);
  bool known = size <= n && index < size;
  std::string root = known ? audit::RootFromLeafHashes(std::vector<std::string>(
                                 leaves.begin(), leaves.begin() + size))
                           : std::string(in.Take(kMerkleHashSize));
  std::string leaf = index < n ? leaves[index] : std::string(32, 'x');
  auto truth = audit::InclusionProof(leaves, index, size);
  FUZZ_CHECK(truth.ok() == known);
  std::vector<std::string> proof = Presented(in, truth, mode & 2);
  Status st = audit::VerifyInclusion(index, size, leaf, proof, root);
  if (st.ok()) FUZZ_CHECK(known && proof == *truth);
  if (known && proof == *truth) FUZZ_CHECK(st.ok());
}

void Consistency(fuzz::Bytes& in, const std::vector<std::string>& leaves,
                 uint8_t mode) {
  uint64_t n = leaves.size();
  uint64_t a = mode & 8 ? in.U64() : in.Byte() % (n + 2);
  uint64_t b = mode & 8 ? in.U64() : in.Byte() % (n + 2);
  bool known = 0 < a && a <= b && b <= n;
  auto root = [&](uint64_t s) {
    return s <= n ? audit::RootFromLeafHashes(std::vector<std::string>(
                        leaves.begin(), leaves.begin() + s))
                  : std::string(in.Take(kMerkleHashSize));
  };
  std::string root_a = root(a), root_b = root(b);
  auto truth = audit::ConsistencyProof(leaves, a, b);
  FUZZ_CHECK(truth.ok() == known);
  std::vector<std::string> proof = Presented(in, truth, mode & 2);
  Status st = audit::VerifyConsistency(a, b, proof, root_a, root_b);
  // Equal sizes need no proof: equal roots are consistent (byte-equal, of
  // any length, as the RFC 9162 test vectors in tests/testdata want).
  bool same = 0 < a && a == b && proof.empty() && root_a == root_b;
  if (st.ok()) FUZZ_CHECK((known && proof == *truth) || same);
  if (known && proof == *truth) FUZZ_CHECK(st.ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes in(data, size);
  uint8_t mode = in.Byte();
  if (mode & 1) {
    std::string_view bytes = in.Rest();
    StatusOr<audit::MerkleFrontier> f = audit::MerkleFrontier::Parse(bytes);
    if (f.ok()) FUZZ_CHECK(f->Serialize() == bytes);
    return 0;
  }
  std::vector<std::string> leaves;
  audit::MerkleFrontier frontier;
  for (uint8_t i = 0, n = in.Byte() % 65; i < n; ++i) {
    leaves.push_back(audit::LeafHash(std::string(1, static_cast<char>(i))));
    frontier.Append(leaves.back());
  }
  FUZZ_CHECK(frontier.Root() == audit::RootFromLeafHashes(leaves));
  if (mode & 4) {
    Consistency(in, leaves, mode);
  } else {
    Inclusion(in, leaves, mode);
  }
  return 0;
}
