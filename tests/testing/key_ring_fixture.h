// Shared setup for tests that need the token key ring: AccessTest's real
// SQLite file, audit log and SoftHSM2 keys, plus a KeyRing over them that
// keeps a retired key published for kTokenTtl seconds.
#ifndef AUTHD_TESTS_TESTING_KEY_RING_FIXTURE_H_
#define AUTHD_TESTS_TESTING_KEY_RING_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "authority/key_ring.h"
#include "testing/access_fixture.h"

namespace authd::testing {

using authority::KeyRing;
using authority::RingKey;

// tokens.ttl_seconds of the fixture: how long a retired key stays published.
inline constexpr int64_t kTokenTtl = 600;

class KeyRingTest : public AccessTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(AccessTest::SetUp());
    // KeyRing::Rotate names each new HSM key after the clock's microsecond,
    // and every test in a process shares one SoftHSM2 token: each fixture
    // starts on a day of its own, so no two tests generate a key under the
    // same label. t0_ is the test's start.
    static std::atomic<int64_t> next_day{1};
    clock_.Set(kStartTime + kDay * next_day++);
    t0_ = clock_.NowSeconds();
    ASSERT_NO_FATAL_FAILURE(OpenRing());
  }

  void OpenRing() {
    ring_.reset();
    StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Open(
        storage_.get(), audit_.get(), &keys(), &clock_, kTokenTtl);
    ASSERT_TRUE(ring.ok()) << ring.status().message();
    ring_ = std::move(ring).value();
  }

  // What a restart does: storage, audit log, Access and the ring reopened
  // on the same database file.
  void Reopen() {
    ring_.reset();
    ASSERT_NO_FATAL_FAILURE(Open(Roles()));
    ASSERT_NO_FATAL_FAILURE(OpenRing());
  }

  // A rotation by the owner over the socket. Two rotations in one test need
  // the clock advanced between them (see SetUp).
  StatusOr<RingKey> Rotate(Algorithm alg, const std::string& reason = "") {
    return ring_->Rotate(alg, kOwner.id, kOwner.address, reason);
  }

  int64_t t0_ = 0;
  std::unique_ptr<KeyRing> ring_;
};

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_KEY_RING_FIXTURE_H_
