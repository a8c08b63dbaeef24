#include "api/tls_identity.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs11.h>
#include <gnutls/x509.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/encoding.h"
#include "common/sha256.h"

namespace authd::api {
namespace {

// One certificate chain with its key, as GnuTLS takes them.
struct Pair {
  std::string cert_pem;
  std::vector<gnutls_pcert_st> certs;
  gnutls_privkey_t key = nullptr;

  Pair() = default;
  // Owns GnuTLS handles: neither copied nor moved.
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  ~Pair() {
    for (auto& c : certs) gnutls_pcert_deinit(&c);
    if (key) gnutls_privkey_deinit(key);
  }
};

// The pair handshakes get; null when no identity is loaded.
std::atomic<const Pair*> g_current{nullptr};
// Whether an identity exists (one per process).
std::atomic<bool> g_loaded{false};

}  // namespace

struct TlsIdentity::State {
  bool in_hsm = false;
  SecureString pin;  // for GnuTLS's PKCS#11 login; empty for a key file
  std::mutex replace_mu;
  // Every pair ever served, the current one last: a session may still point
  // at a replaced one. GUARDED_BY(replace_mu) after construction.
  std::vector<std::unique_ptr<Pair>> pairs;
};

namespace {

// GnuTLS asks for the PIN when it logs in. A second attempt means the PIN
// was wrong: refuse, so the token's retry counter is not burned.
int PinCallback(void* user, int attempt, const char*, const char*,
                unsigned int flags, char* pin, size_t pin_max) noexcept {
  auto* state = static_cast<TlsIdentity::State*>(user);
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
  const Pair* pair = g_current.load(std::memory_order_acquire);
  if (pair == nullptr) return -1;
  // GnuTLS only reads them; its signature predates const.
  *pcert = const_cast<gnutls_pcert_st*>(pair->certs.data());
  *pcert_length = static_cast<unsigned int>(pair->certs.size());
  *pkey = pair->key;
  return 0;
}

Status TlsError(const std::string& what, int rc) {
  return Status::InvalidArgument("server.tls_key: " + what + ": " +
                                 gnutls_strerror(rc));
}

gnutls_datum_t Datum(std::string_view s) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
          static_cast<unsigned int>(s.size())};
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

Status ImportChain(const std::string& cert_pem, Pair* pair) {
  pair->cert_pem = cert_pem;
  gnutls_datum_t pem = Datum(cert_pem);
  unsigned int count = 16;
  pair->certs.resize(count);
  int rc = gnutls_pcert_list_import_x509_raw(pair->certs.data(), &count, &pem,
                                             GNUTLS_X509_FMT_PEM, 0);
  if (rc < 0 || count == 0) {
    pair->certs.clear();
    return Status::InvalidArgument(
        std::string("server.tls_cert: not a PEM certificate chain: ") +
        gnutls_strerror(rc < 0 ? rc : GNUTLS_E_NO_CERTIFICATE_FOUND));
  }
  pair->certs.resize(count);
  return Status::Ok();
}

// Fail when loading, not at the first handshake, if the key is not the
// certificate's.
Status CheckKeyMatches(const Pair& pair) {
  gnutls_pubkey_t pub;
  int rc = gnutls_pubkey_init(&pub);
  if (rc < 0) return TlsError("cannot allocate a key", rc);
  rc = gnutls_pubkey_import_privkey(pub, pair.key, 0, 0);
  StatusOr<std::string> key_der =
      rc < 0 ? StatusOr<std::string>(TlsError("cannot read the public key", rc))
             : PublicDer(pub);
  gnutls_pubkey_deinit(pub);
  if (!key_der.ok()) return key_der.status();
  ASSIGN_OR_RETURN(std::string cert_der, PublicDer(pair.certs[0].pubkey));
  if (*key_der != cert_der) {
    return Status::InvalidArgument(
        "server.tls_key: the key does not match server.tls_cert");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Pair>> PemPair(const std::string& cert_pem,
                                        const SecureString& key_pem) {
  auto pair = std::make_unique<Pair>();
  RETURN_IF_ERROR(ImportChain(cert_pem, pair.get()));
  int rc = gnutls_privkey_init(&pair->key);
  if (rc < 0) return TlsError("cannot allocate a key", rc);
  gnutls_datum_t pem = Datum(key_pem.view());
  rc = gnutls_privkey_import_x509_raw(pair->key, &pem, GNUTLS_X509_FMT_PEM,
                                      nullptr, 0);
  if (rc < 0) return TlsError("not an unencrypted PEM private key", rc);
  RETURN_IF_ERROR(CheckKeyMatches(*pair));
  return pair;
}

StatusOr<std::unique_ptr<Pair>> HsmPair(const std::string& cert_pem,
                                        const std::string& key_uri) {
  auto pair = std::make_unique<Pair>();
  RETURN_IF_ERROR(ImportChain(cert_pem, pair.get()));
  int rc = gnutls_privkey_init(&pair->key);
  if (rc < 0) return TlsError("cannot allocate a key", rc);
  rc = gnutls_privkey_import_url(pair->key, key_uri.c_str(), 0);
  if (rc < 0) return TlsError("cannot use " + key_uri, rc);
  RETURN_IF_ERROR(CheckKeyMatches(*pair));
  return pair;
}

// Claims the process's one identity; FailedPrecondition if it is taken.
Status Claim() {
  if (g_loaded.exchange(true)) {
    return Status::FailedPrecondition("a TLS identity is already loaded");
  }
  return Status::Ok();
}

}  // namespace

TlsIdentity::TlsIdentity(std::unique_ptr<State> state)
    : state_(std::move(state)) {
  g_current.store(state_->pairs.back().get(), std::memory_order_release);
}

TlsIdentity::~TlsIdentity() {
  g_current.store(nullptr, std::memory_order_release);
  if (state_->in_hsm) gnutls_pkcs11_set_pin_function(nullptr, nullptr);
  g_loaded.store(false);
}

void* TlsIdentity::CertificateCallback() const {
  return reinterpret_cast<void*>(&Retrieve);
}

StatusOr<std::unique_ptr<TlsIdentity>> TlsIdentity::FromPem(
    const std::string& cert_pem, const SecureString& key_pem) {
  RETURN_IF_ERROR(Claim());
  auto state = std::make_unique<State>();
  StatusOr<std::unique_ptr<Pair>> pair = PemPair(cert_pem, key_pem);
  if (!pair.ok()) {
    g_loaded.store(false);
    return pair.status();
  }
  state->pairs.push_back(std::move(*pair));
  return std::unique_ptr<TlsIdentity>(new TlsIdentity(std::move(state)));
}

StatusOr<std::unique_ptr<TlsIdentity>> TlsIdentity::FromHsm(
    const std::string& cert_pem, const std::string& key_uri,
    const SecureString& pin) {
  RETURN_IF_ERROR(Claim());
  auto state = std::make_unique<State>();
  state->in_hsm = true;
  state->pin = pin;
  StatusOr<std::unique_ptr<Pair>> pair =
      Status::Internal("PKCS#11 not initialized");
  if (int rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_AUTO, nullptr); rc < 0) {
    pair = TlsError("cannot initialize PKCS#11", rc);
  } else {
    gnutls_pkcs11_set_pin_function(&PinCallback, state.get());
    pair = HsmPair(cert_pem, key_uri);
  }
  if (!pair.ok()) {
    gnutls_pkcs11_set_pin_function(nullptr, nullptr);
    g_loaded.store(false);
    return pair.status();
  }
  state->pairs.push_back(std::move(*pair));
  return std::unique_ptr<TlsIdentity>(new TlsIdentity(std::move(state)));
}

StatusOr<bool> TlsIdentity::Replace(const std::string& cert_pem,
                                    const SecureString& key_pem) {
  if (state_->in_hsm) {
    return Status::FailedPrecondition(
        "the TLS key is in the HSM; a restart loads a new certificate");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Pair> pair, PemPair(cert_pem, key_pem));
  std::lock_guard<std::mutex> lock(state_->replace_mu);
  if (state_->pairs.back()->cert_pem == cert_pem) return false;
  state_->pairs.push_back(std::move(pair));
  g_current.store(state_->pairs.back().get(), std::memory_order_release);
  return true;
}

std::string TlsIdentity::Fingerprint() const {
  const Pair* pair = g_current.load(std::memory_order_acquire);
  if (pair == nullptr) return "";
  const gnutls_datum_t& der = pair->certs[0].cert;
  return HexEncode(
      Sha256(std::string_view(reinterpret_cast<char*>(der.data), der.size)));
}

}  // namespace authd::api
