// Public keys and signature encodings from outside: PEM SubjectPublicKeyInfo
// (the audit key an auditor hands authctl), EC points, and ECDSA signatures
// in DER and raw r||s (what a PKCS#11 token returns). Properties: a parsed
// PEM's own PEM parses to the same key; DER and raw conversions invert each
// other.
#include "common/public_key.h"

#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  StatusOr<PublicKey> key = PublicKey::FromPem(text);
  if (key.ok()) {
    StatusOr<PublicKey> again = PublicKey::FromPem(key->pem());
    FUZZ_CHECK(again.ok() && again->spki_der() == key->spki_der());
    FUZZ_CHECK(again->kid() == key->kid());
    (void)key->Verify("data", text);
  }
  StatusOr<PublicKey> point = PublicKey::FromEcPoint(text);
  if (point.ok()) FUZZ_CHECK(point->jwk_x().size() == 43);
  // (A DER signature that happens to be 64 bytes long reads as raw r||s,
  // as PKCS#11 asks; the round trips skip that documented case.)
  std::string raw = EcdsaSignatureToRaw(text, 32);
  if (!raw.empty()) {
    FUZZ_CHECK(raw.size() == 64);
    std::string der = EcdsaRawToDer(raw);
    FUZZ_CHECK(!der.empty());
    if (der.size() != 64) FUZZ_CHECK(EcdsaSignatureToRaw(der, 32) == raw);
  }
  std::string der = EcdsaRawToDer(text);
  if (!der.empty() && der.size() != size && size <= 64 && size % 2 == 0) {
    FUZZ_CHECK(EcdsaSignatureToRaw(der, size / 2) == text);
  }
  return 0;
}
