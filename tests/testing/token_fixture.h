// TokenServiceTest: AccessTest plus the key ring, the revocations, the
// failure limiter and a TokenService over them, all real (SQLite, SoftHSM2).
#ifndef AUTHD_TESTS_TESTING_TOKEN_FIXTURE_H_
#define AUTHD_TESTS_TESTING_TOKEN_FIXTURE_H_

#include <memory>
#include <string>

#include "authority/failure_limiter.h"
#include "authority/key_ring.h"
#include "authority/revocations.h"
#include "authority/token_service.h"
#include "testing/access_fixture.h"

namespace authd::testing {

inline constexpr char kTokenIssuer[] = "https://authd.test";
inline constexpr char kTokenAudience[] = "powerhub-api";

class TokenServiceTest : public AccessTest {
 protected:
  void SetUp() override {
    AccessTest::SetUp();
    ring_ = std::move(authority::KeyRing::Open(storage_.get(), audit_.get(),
                                               &keys(), &clock_, 600))
                .value();
    revocations_ =
        std::move(authority::Revocations::Load(storage_.get(), &clock_))
            .value();
    tokens_ = MakeService(kTokenAudience, 600);
  }

  std::unique_ptr<authority::TokenService> MakeService(
      const std::string& audience, int64_t ttl) {
    return std::make_unique<authority::TokenService>(
        ring_.get(), access_.get(), &limiter_, revocations_.get(), &clock_,
        authority::TokenOptions{kTokenIssuer, audience, ttl});
  }

  authority::FailureLimiter limiter_{&clock_, authority::LimiterOptions{}};
  std::unique_ptr<authority::KeyRing> ring_;
  std::unique_ptr<authority::Revocations> revocations_;
  std::unique_ptr<authority::TokenService> tokens_;
};

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_TOKEN_FIXTURE_H_
