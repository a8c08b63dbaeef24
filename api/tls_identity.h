// TlsIdentity: the HTTPS listeners' certificate chain and private key, handed
// to GnuTLS at each handshake through MHD_OPTION_HTTPS_CERT_CALLBACK. The key
// comes from a PEM file (server.tls_key = path) or lives in the HSM
// (server.tls_key = "pkcs11:..."), used there through GnuTLS's PKCS#11
// support so no key file exists. The only file that includes GnuTLS.
//
// A pair read from files can be replaced while serving (Replace, on SIGHUP):
// handshakes that start afterwards get the new pair, connections already
// open keep theirs. A replaced pair stays in memory (a few KB) until the
// identity is destroyed, because GnuTLS keeps pointers to the pair it was
// handed for the life of the session.
//
// One identity per process (GnuTLS's certificate callback carries no user
// pointer). Thread-safe: the callback reads the current pair with one atomic
// load; Replace calls are serialized.
#ifndef AUTHD_API_TLS_IDENTITY_H_
#define AUTHD_API_TLS_IDENTITY_H_

#include <memory>
#include <string>

#include "common/secure_string.h"
#include "common/status.h"

namespace authd::api {

class TlsIdentity {
 public:
  // `cert_pem`: the certificate chain, leaf first; `key_pem`: its private
  // key (PKCS#1, SEC 1 or unencrypted PKCS#8). InvalidArgument, naming
  // server.tls_cert or server.tls_key, when either does not parse or the key
  // is not the certificate's.
  static StatusOr<std::unique_ptr<TlsIdentity>> FromPem(
      const std::string& cert_pem, const SecureString& key_pem);
  // `key_uri`: RFC 7512 URI of the private key in the HSM. `pin`: the
  // token's user PIN (never retried if wrong). Fails when the key cannot be
  // used or does not match the certificate.
  static StatusOr<std::unique_ptr<TlsIdentity>> FromHsm(
      const std::string& cert_pem, const std::string& key_uri,
      const SecureString& pin);
  ~TlsIdentity();
  TlsIdentity(const TlsIdentity&) = delete;
  TlsIdentity& operator=(const TlsIdentity&) = delete;

  // Checks a renewed pair as FromPem does and serves it to new handshakes.
  // Returns false, serving the current pair still, when `cert_pem` is the
  // chain already served (the key, checked against it, is then the same
  // key). On error the current pair stays. FailedPrecondition for an
  // identity whose key is in the HSM.
  StatusOr<bool> Replace(const std::string& cert_pem,
                         const SecureString& key_pem);

  // Hex SHA-256 of the served leaf certificate (DER), for log lines.
  std::string Fingerprint() const;

  // A gnutls_certificate_retrieve_function2* for
  // MHD_OPTION_HTTPS_CERT_CALLBACK, as an untyped pointer so the HTTP adapter
  // needs no GnuTLS header.
  void* CertificateCallback() const;

  struct State;

 private:
  explicit TlsIdentity(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace authd::api

#endif  // AUTHD_API_TLS_IDENTITY_H_
