#include "audit/merkle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/encoding.h"

namespace authd::audit {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The RFC 6962 reference tree (certificate-transparency merkle_tree_test.cc);
// the transparency-dev vectors under testdata/rfc9162 are built on it.
std::vector<std::string> ReferenceLeaves() {
  return {"",
          std::string("\x00", 1),
          "\x10",
          "\x20\x21",
          "\x30\x31",
          "\x40\x41\x42\x43",
          "\x50\x51\x52\x53\x54\x55\x56\x57",
          "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
}

std::vector<std::string> LeafHashes(const std::vector<std::string>& leaves) {
  std::vector<std::string> out;
  for (const std::string& l : leaves) out.push_back(LeafHash(l));
  return out;
}

// Leaf hashes of "leaf 0", "leaf 1", ...
std::vector<std::string> NumberedLeafHashes(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(LeafHash("leaf " + std::to_string(i)));
  return out;
}

// tests/testdata/rfc9162, located by the build (AUTHD_TESTDATA_DIR).
fs::path VectorDir() { return fs::path(AUTHD_TESTDATA_DIR) / "rfc9162"; }

struct Vector {
  std::string path;
  json data;
};

std::vector<Vector> LoadVectors(const std::string& kind) {
  fs::path dir = VectorDir() / kind;
  std::vector<Vector> out;
  if (!fs::is_directory(dir)) {
    ADD_FAILURE() << "test vector directory " << dir << " is missing";
    return out;
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") {
      continue;
    }
    std::ifstream in(entry.path());
    std::stringstream buf;
    buf << in.rdbuf();
    out.push_back({entry.path().string(), json::parse(buf.str())});
  }
  std::sort(out.begin(), out.end(),
            [](const Vector& a, const Vector& b) { return a.path < b.path; });
  return out;
}

std::string B64(const json& j, const std::string& path) {
  std::optional<std::string> v = Base64Decode(j.get<std::string>());
  EXPECT_TRUE(v.has_value()) << path << ": bad base64 " << j;
  return v.value_or("");
}

std::vector<std::string> B64List(const json& j, const std::string& path) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  for (const json& e : j) out.push_back(B64(e, path));
  return out;
}

TEST(MerkleVectorsTest, InclusionVerifierAcceptsExactlyTheValidCases) {
  std::vector<Vector> vectors = LoadVectors("inclusion");
  ASSERT_FALSE(vectors.empty());
  std::vector<std::string> ref = LeafHashes(ReferenceLeaves());
  size_t accepted = 0;
  size_t compared = 0;  // valid vectors our generator reproduced
  for (const Vector& v : vectors) {
    const json& d = v.data;
    uint64_t index = d.at("leafIdx").get<uint64_t>();
    uint64_t size = d.at("treeSize").get<uint64_t>();
    std::string leaf = B64(d.at("leafHash"), v.path);
    std::vector<std::string> proof = B64List(d.at("proof"), v.path);
    std::string root = B64(d.at("root"), v.path);
    bool want_err = d.at("wantErr").get<bool>();
    Status st = VerifyInclusion(index, size, leaf, proof, root);
    EXPECT_EQ(st.ok(), !want_err)
        << v.path << " (" << d.at("desc") << "): " << st.message();
    if (want_err) continue;
    ++accepted;
    // Our generator must produce the very proof the vector carries.
    if (size <= ref.size() && index < size && ref[index] == leaf) {
      StatusOr<std::vector<std::string>> got = InclusionProof(ref, index, size);
      ASSERT_TRUE(got.ok()) << got.status().message();
      EXPECT_EQ(*got, proof) << v.path;
      ++compared;
    }
  }
  EXPECT_EQ(accepted, 6u);  // one happy path per directory + single-entry
  EXPECT_GE(compared, 5u);
}

TEST(MerkleVectorsTest, ConsistencyVerifierAcceptsExactlyTheValidCases) {
  std::vector<Vector> vectors = LoadVectors("consistency");
  ASSERT_FALSE(vectors.empty());
  std::vector<std::string> ref = LeafHashes(ReferenceLeaves());
  size_t accepted = 0;
  size_t compared = 0;  // valid vectors our generator reproduced
  for (const Vector& v : vectors) {
    const json& d = v.data;
    uint64_t size1 = d.at("size1").get<uint64_t>();
    uint64_t size2 = d.at("size2").get<uint64_t>();
    std::vector<std::string> proof = B64List(d.at("proof"), v.path);
    std::string root1 = B64(d.at("root1"), v.path);
    std::string root2 = B64(d.at("root2"), v.path);
    bool want_err = d.at("wantErr").get<bool>();
    Status st = VerifyConsistency(size1, size2, proof, root1, root2);
    EXPECT_EQ(st.ok(), !want_err)
        << v.path << " (" << d.at("desc") << "): " << st.message();
    if (want_err) continue;
    ++accepted;
    if (size2 <= ref.size() && size1 > 0 &&
        root2 == RootFromLeafHashes({ref.begin(), ref.begin() + size2})) {
      StatusOr<std::vector<std::string>> got =
          ConsistencyProof(ref, size1, size2);
      ASSERT_TRUE(got.ok()) << got.status().message();
      EXPECT_EQ(*got, proof) << v.path;
      ++compared;
    }
  }
  EXPECT_EQ(accepted, 6u);  // one happy path per directory + equal sizes
  EXPECT_GE(compared, 5u);
}

TEST(MerkleTest, KnownAnswers) {
  EXPECT_EQ(HexEncode(RootFromLeafHashes({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(EmptyTreeHash()), HexEncode(RootFromLeafHashes({})));
  std::vector<std::string> ref = LeafHashes(ReferenceLeaves());
  EXPECT_EQ(HexEncode(ref[0]),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(HexEncode(RootFromLeafHashes({ref[0]})),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(HexEncode(RootFromLeafHashes({ref[0], ref[1]})),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
  EXPECT_EQ(HexEncode(NodeHash(ref[0], ref[1])),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
  EXPECT_EQ(HexEncode(RootFromLeafHashes({ref.begin(), ref.begin() + 3})),
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77");
  EXPECT_EQ(HexEncode(RootFromLeafHashes({ref.begin(), ref.begin() + 7})),
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c");
  EXPECT_EQ(HexEncode(RootFromLeafHashes(ref)),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
}

TEST(MerkleTest, GeneratedInclusionProofsVerifyAndTamperingFails) {
  constexpr uint64_t kMax = 40;
  std::vector<std::string> leaves = NumberedLeafHashes(kMax);
  for (uint64_t size = 1; size <= kMax; ++size) {
    std::string root =
        RootFromLeafHashes({leaves.begin(), leaves.begin() + size});
    for (uint64_t index = 0; index < size; ++index) {
      StatusOr<std::vector<std::string>> proof =
          InclusionProof(leaves, index, size);
      ASSERT_TRUE(proof.ok()) << proof.status().message();
      Status st = VerifyInclusion(index, size, leaves[index], *proof, root);
      ASSERT_TRUE(st.ok()) << index << "/" << size << ": " << st.message();
      EXPECT_FALSE(
          VerifyInclusion(index, size, leaves[(index + 1) % kMax], *proof, root)
              .ok());
      // (Not checked: another tree size whose path has the same shape, e.g.
      // 5 and 6 for index 0, legitimately accepts the same proof and root.)
      if (size > 1) {
        EXPECT_FALSE(VerifyInclusion((index + 1) % size, size, leaves[index],
                                     *proof, root)
                         .ok());
      }
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<std::string> bad = *proof;
        bad[i][7] ^= 0x20;
        EXPECT_FALSE(
            VerifyInclusion(index, size, leaves[index], bad, root).ok());
      }
      std::vector<std::string> longer = *proof;
      longer.push_back(leaves[0]);
      EXPECT_FALSE(
          VerifyInclusion(index, size, leaves[index], longer, root).ok());
    }
  }
}

TEST(MerkleTest, GeneratedConsistencyProofsVerifyAndTamperingFails) {
  constexpr uint64_t kMax = 40;
  std::vector<std::string> leaves = NumberedLeafHashes(kMax);
  std::vector<std::string> roots;
  for (uint64_t n = 0; n <= kMax; ++n) {
    roots.push_back(RootFromLeafHashes({leaves.begin(), leaves.begin() + n}));
  }
  for (uint64_t to = 1; to <= kMax; ++to) {
    for (uint64_t from = 1; from <= to; ++from) {
      StatusOr<std::vector<std::string>> proof =
          ConsistencyProof(leaves, from, to);
      ASSERT_TRUE(proof.ok()) << proof.status().message();
      EXPECT_EQ(proof->empty(), from == to);
      Status st = VerifyConsistency(from, to, *proof, roots[from], roots[to]);
      ASSERT_TRUE(st.ok()) << from << "->" << to << ": " << st.message();
      if (from == to) continue;
      EXPECT_FALSE(
          VerifyConsistency(from, to, *proof, roots[from - 1], roots[to]).ok());
      EXPECT_FALSE(
          VerifyConsistency(from, to, *proof, roots[from], roots[to - 1]).ok());
      EXPECT_FALSE(
          VerifyConsistency(to, from, *proof, roots[to], roots[from]).ok());
      for (size_t i = 0; i < proof->size(); ++i) {
        std::vector<std::string> bad = *proof;
        bad[i][0] ^= 0x01;
        EXPECT_FALSE(
            VerifyConsistency(from, to, bad, roots[from], roots[to]).ok());
      }
    }
  }
}

TEST(MerkleTest, ProofGenerationRejectsBadArguments) {
  std::vector<std::string> leaves = NumberedLeafHashes(5);
  EXPECT_FALSE(InclusionProof(leaves, 5, 5).ok());
  EXPECT_FALSE(InclusionProof(leaves, 0, 6).ok());
  EXPECT_FALSE(InclusionProof(leaves, 0, 0).ok());
  EXPECT_TRUE(InclusionProof(leaves, 0, 1)->empty());
  EXPECT_FALSE(ConsistencyProof(leaves, 0, 3).ok());
  EXPECT_FALSE(ConsistencyProof(leaves, 4, 3).ok());
  EXPECT_FALSE(ConsistencyProof(leaves, 2, 6).ok());
}

TEST(MerkleTest, VerifiersRejectWrongHashLengths) {
  std::vector<std::string> leaves = NumberedLeafHashes(4);
  std::string root = RootFromLeafHashes(leaves);
  std::vector<std::string> proof = *InclusionProof(leaves, 1, 4);
  EXPECT_TRUE(VerifyInclusion(1, 4, leaves[1], proof, root).ok());
  EXPECT_FALSE(
      VerifyInclusion(1, 4, leaves[1].substr(0, 31), proof, root).ok());
  proof[0] += "x";
  EXPECT_FALSE(VerifyInclusion(1, 4, leaves[1], proof, root).ok());
}

TEST(MerkleFrontierTest, RootMatchesFullTreeAndSurvivesSerialization) {
  std::vector<std::string> leaves = NumberedLeafHashes(100);
  MerkleFrontier f;
  for (uint64_t n = 0; n <= 100; ++n) {
    ASSERT_EQ(f.size(), n);
    std::string want = RootFromLeafHashes({leaves.begin(), leaves.begin() + n});
    ASSERT_EQ(HexEncode(f.Root()), HexEncode(want)) << "size " << n;
    EXPECT_EQ(f.hashes().size(), static_cast<size_t>(std::popcount(n)));

    std::string bytes = f.Serialize();
    StatusOr<MerkleFrontier> parsed = MerkleFrontier::Parse(bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    EXPECT_EQ(parsed->size(), n);
    EXPECT_EQ(parsed->Root(), want);
    EXPECT_EQ(parsed->Serialize(), bytes);
    EXPECT_FALSE(MerkleFrontier::Parse(bytes + "x").ok());
    EXPECT_FALSE(MerkleFrontier::Parse(bytes.substr(0, bytes.size() - 1)).ok());
    if (n < 100) {
      // A parsed frontier continues exactly like the original.
      parsed->Append(leaves[n]);
      f.Append(leaves[n]);
      EXPECT_EQ(parsed->Root(), f.Root());
    }
  }
  EXPECT_FALSE(MerkleFrontier::Parse("").ok());
  EXPECT_FALSE(MerkleFrontier::Parse(std::string(7, '\0')).ok());
}

// The tree's complete subtrees as a writer stores them: every node the
// frontier reports completed, plus the leaf hashes at level 0.
class NodeStore {
 public:
  explicit NodeStore(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      std::string h = LeafHash("leaf " + std::to_string(i));
      leaves_.push_back(h);
      std::vector<MerkleFrontier::Node> done;
      frontier_.Append(h, &done);
      for (auto& node : done) nodes_[Key(node.id)] = node.hash;
    }
  }
  const std::vector<std::string>& leaves() const { return leaves_; }
  const MerkleFrontier& frontier() const { return frontier_; }
  size_t stored() const { return nodes_.size(); }
  int reads = 0;

  MerkleNodeReader Reader() {
    return [this](const std::vector<MerkleNodeId>& ids)
               -> StatusOr<std::vector<std::string>> {
      std::vector<std::string> out;
      for (const MerkleNodeId& id : ids) {
        ++reads;
        if (id.level == 0) {
          out.push_back(leaves_.at(id.index));
          continue;
        }
        auto it = nodes_.find(Key(id));
        if (it == nodes_.end()) return Status::NotFound("no such node");
        out.push_back(it->second);
      }
      return out;
    };
  }

 private:
  static std::pair<uint32_t, uint64_t> Key(MerkleNodeId id) {
    return {id.level, id.index};
  }
  std::vector<std::string> leaves_;
  MerkleFrontier frontier_;
  std::map<std::pair<uint32_t, uint64_t>, std::string> nodes_;
};

TEST(MerkleNodesTest, CompletedNodesAreTheSubtreeRoots) {
  NodeStore store(300);
  // One node per completed subtree of 2 leaves or more: n - popcount(n).
  EXPECT_EQ(store.stored(), 300u - std::popcount(300u));
  for (uint32_t level = 1; level <= 8; ++level) {
    uint64_t width = uint64_t{1} << level;
    for (uint64_t i = 0; (i + 1) * width <= 300; ++i) {
      std::vector<std::string> part(
          store.leaves().begin() + static_cast<long>(i * width),
          store.leaves().begin() + static_cast<long>((i + 1) * width));
      auto got = store.Reader()({{level, i}});
      ASSERT_TRUE(got.ok()) << level << " " << i;
      EXPECT_EQ((*got)[0], RootFromLeafHashes(part)) << level << " " << i;
    }
  }
  // The frontier's own subtrees are nodes too, and fold to its root.
  std::vector<MerkleNodeId> ids = store.frontier().NodeIds();
  auto hashes = store.Reader()(ids).value();
  EXPECT_EQ(hashes, store.frontier().hashes());
  EXPECT_EQ(FoldRange(hashes.data(), hashes.size()), store.frontier().Root());
}

// Proofs from O(log n) stored nodes equal the O(n) reference, for every
// (index, size) and (from, to) up to 70 leaves: powers of two and not.
TEST(MerkleNodesTest, ProofsFromNodesEqualTheReferenceForSmallTrees) {
  NodeStore store(70);
  const auto& leaves = store.leaves();
  for (uint64_t size = 1; size <= 70; ++size) {
    for (uint64_t i = 0; i < size; ++i) {
      auto want = InclusionProof(leaves, i, size).value();
      auto got = RangeHashes(InclusionRanges(i, size), store.Reader());
      ASSERT_TRUE(got.ok()) << got.status().message();
      ASSERT_EQ(*got, want) << "inclusion " << i << " in " << size;
    }
    for (uint64_t from = 1; from <= size; ++from) {
      auto want = ConsistencyProof(leaves, from, size).value();
      auto got = RangeHashes(ConsistencyRanges(from, size), store.Reader());
      ASSERT_TRUE(got.ok()) << got.status().message();
      ASSERT_EQ(*got, want) << "consistency " << from << " to " << size;
    }
  }
}

TEST(MerkleNodesTest, ProofsFromNodesEqualTheReferenceForRandomPairs) {
  const uint64_t n = 5000;
  NodeStore store(n);
  const auto& leaves = store.leaves();
  srand(13);
  for (int k = 0; k < 400; ++k) {
    uint64_t size = 1 + static_cast<uint64_t>(rand()) % n;
    if (k % 4 == 0) size = std::bit_floor(size);      // powers of two
    if (k % 4 == 1) size = std::bit_floor(size) + 1;  // just past one
    uint64_t i = static_cast<uint64_t>(rand()) % size;
    store.reads = 0;
    auto inc = RangeHashes(InclusionRanges(i, size), store.Reader());
    ASSERT_TRUE(inc.ok());
    EXPECT_EQ(*inc, InclusionProof(leaves, i, size).value())
        << i << " in " << size;
    // O(log n) reads: at most one per proof element plus the right edge.
    EXPECT_LE(store.reads, 2 * 13 + 2) << i << " in " << size;
    uint64_t from = 1 + i;
    auto con = RangeHashes(ConsistencyRanges(from, size), store.Reader());
    ASSERT_TRUE(con.ok());
    EXPECT_EQ(*con, ConsistencyProof(leaves, from, size).value())
        << from << " to " << size;
    EXPECT_TRUE(
        VerifyConsistency(
            from, size, *con,
            RootFromLeafHashes(std::vector<std::string>(
                leaves.begin(), leaves.begin() + static_cast<long>(from))),
            RootFromLeafHashes(std::vector<std::string>(
                leaves.begin(), leaves.begin() + static_cast<long>(size))))
            .ok());
  }
}

TEST(MerkleNodesTest, RangeNodesSplitAtEachSetBit) {
  EXPECT_EQ(RangeNodes({0, 7}),
            (std::vector<MerkleNodeId>{{2, 0}, {1, 2}, {0, 6}}));
  EXPECT_EQ(RangeNodes({8, 16}), (std::vector<MerkleNodeId>{{3, 1}}));
  EXPECT_EQ(RangeNodes({12, 15}), (std::vector<MerkleNodeId>{{1, 6}, {0, 14}}));
}

TEST(MerkleNodesTest, AMissingNodeIsAnError) {
  auto reader = [](const std::vector<MerkleNodeId>&)
      -> StatusOr<std::vector<std::string>> {
    return Status::NotFound("not stored");
  };
  EXPECT_EQ(RangeHashes(InclusionRanges(3, 9), reader).status().code(),
            StatusCode::kNotFound);
  auto short_reader = [](const std::vector<MerkleNodeId>&)
      -> StatusOr<std::vector<std::string>> {
    return std::vector<std::string>{};
  };
  EXPECT_EQ(RangeHashes(InclusionRanges(3, 9), short_reader).status().code(),
            StatusCode::kInternal);
}

}  // namespace
}  // namespace authd::audit
