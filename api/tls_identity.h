// HsmTlsIdentity: the HTTPS listener's certificate with a private key that
// lives in the HSM (server.tls_key = "pkcs11:..."), used through GnuTLS's
// PKCS#11 support so no key file exists on disk. The only file that includes
// GnuTLS. One identity per process (GnuTLS's certificate callback carries no
// user pointer); thread-safe once loaded.
#ifndef AUTHD_API_HSM_TLS_IDENTITY_H_
#define AUTHD_API_HSM_TLS_IDENTITY_H_

#include <memory>
#include <string>

#include "common/secure_string.h"
#include "common/status.h"

namespace authd::api {

class HsmTlsIdentity {
 public:
  // `cert_pem`: the certificate chain, leaf first. `key_uri`: RFC 7512 URI
  // of the private key. `pin`: the token's user PIN (never retried if
  // wrong). Fails when the key cannot be used or does not match the cert.
  static StatusOr<std::unique_ptr<HsmTlsIdentity>> Load(
      const std::string& cert_pem, const std::string& key_uri,
      const SecureString& pin);
  ~HsmTlsIdentity();
  HsmTlsIdentity(const HsmTlsIdentity&) = delete;
  HsmTlsIdentity& operator=(const HsmTlsIdentity&) = delete;

  // A gnutls_certificate_retrieve_function2* for
  // MHD_OPTION_HTTPS_CERT_CALLBACK, as an untyped pointer so the HTTP adapter
  // needs no GnuTLS header.
  void* CertificateCallback() const;

  struct State;

 private:
  explicit HsmTlsIdentity(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace authd::api

#endif  // AUTHD_API_HSM_TLS_IDENTITY_H_
