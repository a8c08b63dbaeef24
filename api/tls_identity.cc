#include "api/hsm_tls_identity.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>

#include <cstring>
#include <vector>

namespace authd::api {

struct HsmTlsIdentity::State {
  SecureString pin;
  std::vector<gnutls_pcert_st> certs;
  gnutls_privkey_t key = nullptr;
  ~State() {
    for (auto& c : certs) gnutls_pcert_deinit(&c);
    if (key) gnutls_privkey_deinit(key);
  }
};

namespace {

HsmTlsIdentity::State* g_state = nullptr;  // the process's one identity

// GnuTLS asks for the PIN when it logs in. A second attempt means the PIN
// was wrong: refuse, so the token's retry counter is not burned.
int PinCallback(void* user, int attempt, const char*, const char*,
                unsigned int flags, char* pin, size_t pin_max) noexcept {
  auto* state = static_cast<HsmTlsIdentity::State*>(user);
  if (attempt > 0 || (flags & GNUTLS_PIN_SO) || state->pin.size() >= pin_max) {
    return -1;
  }
  memcpy(pin, state->pin.data(), state->pin.size());
  pin[state->pin.size()] = '\0';
  return 0;
}

int Retrieve(gnutls_session_t, const gnutls_datum_t*, int,
             const gnutls_pk_algorithm_t*, int, gnutls_pcert_st** pcert,
             unsigned int* pcert_length, gnutls_privkey_t* pkey) noexcept {
  if (g_state == nullptr) return -1;
  *pcert = g_state->certs.data();
  *pcert_length = static_cast<unsigned int>(g_state->certs.size());
  *pkey = g_state->key;
  return 0;
}

Status TlsError(const std::string& what, int rc) {
  return Status::InvalidArgument("server.tls_key: " + what + ": " +
                                 gnutls_strerror(rc));
}

// The key's public half, DER, to compare with the certificate's.
StatusOr<std::string> PublicDer(gnutls_pubkey_t pub) {
  gnutls_datum_t der{};
  int rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der);
  if (rc < 0) return TlsError("cannot export public key", rc);
  std::string out(reinterpret_cast<char*>(der.data), der.size);
  gnutls_free(der.data);
  return out;
}

}  // namespace

HsmTlsIdentity::HsmTlsIdentity(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

HsmTlsIdentity::~HsmTlsIdentity() {
  if (g_state == state_.get()) g_state = nullptr;
}

void* HsmTlsIdentity::CertificateCallback() const {
  return reinterpret_cast<void*>(&Retrieve);
}

StatusOr<std::unique_ptr<HsmTlsIdentity>> HsmTlsIdentity::Load(
    const std::string& cert_pem, const std::string& key_uri,
    const SecureString& pin) {
  if (g_state != nullptr) {
    return Status::FailedPrecondition("a TLS identity is already loaded");
  }
  auto state = std::make_unique<State>();
  state->pin = pin;
  int rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_AUTO, nullptr);
  if (rc < 0) return TlsError("cannot initialize PKCS#11", rc);
  gnutls_pkcs11_set_pin_function(&PinCallback, state.get());

  gnutls_datum_t pem{
      reinterpret_cast<unsigned char*>(const_cast<char*>(cert_pem.data())),
      static_cast<unsigned int>(cert_pem.size())};
  unsigned int count = 16;
  state->certs.resize(count);
  rc = gnutls_pcert_list_import_x509_raw(state->certs.data(), &count, &pem,
                                         GNUTLS_X509_FMT_PEM, 0);
  if (rc < 0) {
    state->certs.clear();
    return Status::InvalidArgument(
        std::string("server.tls_cert: not a PEM certificate chain: ") +
        gnutls_strerror(rc));
  }
  state->certs.resize(count);

  rc = gnutls_privkey_init(&state->key);
  if (rc < 0) return TlsError("cannot allocate a key", rc);
  rc = gnutls_privkey_import_url(state->key, key_uri.c_str(), 0);
  if (rc < 0) return TlsError("cannot use " + key_uri, rc);

  // Fail at start, not at the first handshake, if the key is not the
  // certificate's.
  gnutls_pubkey_t pub;
  gnutls_pubkey_init(&pub);
  rc = gnutls_pubkey_import_privkey(pub, state->key, 0, 0);
  StatusOr<std::string> key_der =
      rc < 0 ? StatusOr<std::string>(TlsError("cannot read the public key", rc))
             : PublicDer(pub);
  gnutls_pubkey_deinit(pub);
  if (!key_der.ok()) return key_der.status();
  StatusOr<std::string> cert_der = PublicDer(state->certs[0].pubkey);
  if (!cert_der.ok()) return cert_der.status();
  if (*key_der != *cert_der) {
    return Status::InvalidArgument(
        "server.tls_key: the HSM key does not match server.tls_cert");
  }
  g_state = state.get();
  return std::unique_ptr<HsmTlsIdentity>(new HsmTlsIdentity(std::move(state)));
}

}  // namespace authd::api
