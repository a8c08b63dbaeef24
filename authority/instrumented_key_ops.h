// InstrumentedKeyOps: a KeyOps decorator that times every HSM operation into
// Metrics (latency histogram and error count per operation) and forwards it.
// An operation refused as Busy (no pooled session came free in time) is
// back-pressure, not an HSM failure: it is counted apart, with no latency.
// Thread-safe, as the KeyOps it wraps.
#ifndef AUTHD_AUTHORITY_INSTRUMENTED_KEY_OPS_H_
#define AUTHD_AUTHORITY_INSTRUMENTED_KEY_OPS_H_

#include <string>
#include <string_view>
#include <vector>

#include "authority/metrics.h"
#include "hsm/forwarding_key_ops.h"

namespace authd::authority {

class InstrumentedKeyOps final : public hsm::ForwardingKeyOps {
 public:
  InstrumentedKeyOps(const hsm::KeyOps* inner, Metrics* metrics)
      : ForwardingKeyOps(inner), metrics_(metrics) {}
  StatusOr<std::string> SignEs256(hsm::KeyUse use,
                                  std::string_view data) const override;
  StatusOr<std::string> HmacPepper(std::string_view data) const override;
  StatusOr<std::string> Random(size_t n) const override;
  StatusOr<std::vector<std::string>> ReadData(
      const std::string& label) const override;
  Status WriteData(const std::string& label,
                   std::string_view value) const override;
  StatusOr<std::string> SignWith(const std::string& label,
                                 std::string_view data) const override;

 private:
  Metrics* metrics_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_INSTRUMENTED_KEY_OPS_H_
