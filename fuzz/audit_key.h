// The audit key and log origin of the fuzz targets for the audit formats:
// the World's (SoftwareKeyOps's fixed audit key, origin kFuzzOrigin), so that
// seed files signed once stay valid. Header only.
#ifndef AUTHD_FUZZ_AUDIT_KEY_H_
#define AUTHD_FUZZ_AUDIT_KEY_H_

#include "fuzz/software_key_ops.h"

namespace authd::fuzz {

inline constexpr char kFuzzOrigin[] = "authd.fuzz/audit";

inline const PublicKey& AuditKey() {
  static const PublicKey* key =
      new PublicKey(SoftwareKeyOps().Public(hsm::KeyUse::kAudit));
  return *key;
}

}  // namespace authd::fuzz

#endif  // AUTHD_FUZZ_AUDIT_KEY_H_
