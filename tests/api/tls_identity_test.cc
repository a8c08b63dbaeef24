// TlsIdentity with a key file: a pair is checked before it is served, and a
// renewed pair replaces it for new TLS connections while the server runs.
// The handshakes are real: the libmicrohttpd server with GnuTLS on one side,
// an OpenSSL client on the other, on a port the kernel picks.
#include "api/tls_identity.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "api/http_server.h"
#include "common/deleter.h"
#include "common/encoding.h"
#include "common/sha256.h"
#include "common/unique_fd.h"

namespace authd::api {
namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// A self-signed P-256 certificate for `cn`, its key, and the SHA-256 of the
// certificate's DER.
struct TestPair {
  std::string cert_pem;
  SecureString key_pem;
  std::string fingerprint;
};

TestPair MakePair(const std::string& cn) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_sign(cert.get(), key.get(), EVP_sha256());
  TestPair out;
  BioPtr c(BIO_new(BIO_s_mem())), k(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(c.get(), cert.get());
  PEM_write_bio_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr,
                           nullptr);
  out.cert_pem = BioText(c.get());
  out.key_pem = SecureString(std::string_view(BioText(k.get())));
  unsigned char* der = nullptr;
  int n = i2d_X509(cert.get(), &der);
  out.fingerprint =
      HexEncode(Sha256(std::string_view(reinterpret_cast<char*>(der), n)));
  OPENSSL_free(der);
  return out;
}

// Answers every request with 204.
class NoContent final : public HttpService {
 public:
  bool AcceptPeer(const IpAddress&) const override { return true; }
  std::optional<Response> Admit(Request&) const override {
    return std::nullopt;
  }
  Response Handle(const Request&) const override {
    return Response::NoContent();
  }
  void Observe(const Request&, double) const override {}
  void Decorate(const Request&, Response*) const override {}
};

// One TLS connection from an OpenSSL client to 127.0.0.1:`port`.
class TlsClient {
 public:
  explicit TlsClient(int port) : ctx_(SSL_CTX_new(TLS_client_method())) {
    fd_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr)) {
      return;
    }
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_.get());
    if (SSL_connect(ssl_.get()) != 1) ssl_.reset();
  }
  ~TlsClient() {
    if (ssl_) SSL_shutdown(ssl_.get());
  }

  // The SHA-256 of the certificate the server showed; "" when the
  // handshake failed.
  std::string Fingerprint() const {
    if (!ssl_) return "";
    X509Ptr cert(SSL_get1_peer_certificate(ssl_.get()));
    if (!cert) return "";
    unsigned char* der = nullptr;
    int n = i2d_X509(cert.get(), &der);
    std::string out =
        HexEncode(Sha256(std::string_view(reinterpret_cast<char*>(der), n)));
    OPENSSL_free(der);
    return out;
  }

  // One request on the connection; the status line of the answer.
  std::string StatusLine() {
    if (!ssl_) return "";
    const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    if (SSL_write(ssl_.get(), req.data(), static_cast<int>(req.size())) <= 0) {
      return "";
    }
    char buf[512];
    int n = SSL_read(ssl_.get(), buf, sizeof buf);
    if (n <= 0) return "";
    std::string text(buf, static_cast<size_t>(n));
    return text.substr(0, text.find("\r\n"));
  }

 private:
  std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>> ctx_;
  UniqueFd fd_;
  std::unique_ptr<SSL, Deleter<SSL_free>> ssl_;
};

int PortOf(const HttpServer& server) {
  const std::string& bound = server.bound().at(0);
  return std::stoi(bound.substr(bound.rfind(':') + 1));
}

TEST(TlsIdentityTest, AMatchingPairLoads) {
  TestPair p = MakePair("a");
  auto id = TlsIdentity::FromPem(p.cert_pem, p.key_pem);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ((*id)->Fingerprint(), p.fingerprint);
  EXPECT_NE((*id)->CertificateCallback(), nullptr);
}

TEST(TlsIdentityTest, ABrokenPairIsRefusedNamingWhy) {
  TestPair a = MakePair("a"), b = MakePair("b");
  auto mismatch = TlsIdentity::FromPem(a.cert_pem, b.key_pem);
  EXPECT_EQ(mismatch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(mismatch.status().message(),
            "server.tls_key: the key does not match server.tls_cert");
  auto bad_cert =
      TlsIdentity::FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n", a.key_pem);
  EXPECT_EQ(bad_cert.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_cert.status().message().rfind(
                "server.tls_cert: not a PEM certificate chain: ", 0),
            0u)
      << bad_cert.status().message();
  auto bad_key = TlsIdentity::FromPem(a.cert_pem, SecureString("not a key"));
  EXPECT_EQ(bad_key.status().message().rfind(
                "server.tls_key: not an unencrypted PEM private key: ", 0),
            0u)
      << bad_key.status().message();
  // A failed load leaves the process's one identity free.
  EXPECT_TRUE(TlsIdentity::FromPem(a.cert_pem, a.key_pem).ok());
}

TEST(TlsIdentityTest, OneIdentityPerProcess) {
  TestPair p = MakePair("a");
  auto first = TlsIdentity::FromPem(p.cert_pem, p.key_pem);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(TlsIdentity::FromPem(p.cert_pem, p.key_pem).status().code(),
            StatusCode::kFailedPrecondition);
  first->reset();
  EXPECT_TRUE(TlsIdentity::FromPem(p.cert_pem, p.key_pem).ok());
}

TEST(TlsIdentityTest, NewConnectionsGetTheReplacedPairOldOnesKeepTheirs) {
  TestPair a = MakePair("a"), b = MakePair("b"), c = MakePair("c");
  auto id = TlsIdentity::FromPem(a.cert_pem, a.key_pem);
  ASSERT_TRUE(id.ok()) << id.status().message();
  NoContent service;
  ServerOptions opts;
  opts.listen = {"127.0.0.1:0"};
  opts.threads = 1;
  opts.tls_cert_callback = (*id)->CertificateCallback();
  auto server = HttpServer::Start(opts, &service);
  ASSERT_TRUE(server.ok()) << server.status().message();
  const int port = PortOf(**server);
  TlsClient before(port);
  EXPECT_EQ(before.Fingerprint(), a.fingerprint);
  EXPECT_EQ(before.StatusLine(), "HTTP/1.1 204 No Content");

  StatusOr<bool> replaced = (*id)->Replace(b.cert_pem, b.key_pem);
  ASSERT_TRUE(replaced.ok()) << replaced.status().message();
  EXPECT_TRUE(*replaced);
  EXPECT_EQ((*id)->Fingerprint(), b.fingerprint);
  TlsClient after(port);
  EXPECT_EQ(after.Fingerprint(), b.fingerprint);
  EXPECT_EQ(after.StatusLine(), "HTTP/1.1 204 No Content");
  // The connection made before goes on under the pair it was given.
  EXPECT_EQ(before.StatusLine(), "HTTP/1.1 204 No Content");

  // The same pair again changes nothing.
  replaced = (*id)->Replace(b.cert_pem, b.key_pem);
  ASSERT_TRUE(replaced.ok());
  EXPECT_FALSE(*replaced);

  // A broken pair is refused and the running one still served.
  EXPECT_EQ((*id)->Replace(c.cert_pem, a.key_pem).status().message(),
            "server.tls_key: the key does not match server.tls_cert");
  EXPECT_EQ((*id)->Replace("garbage", c.key_pem).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((*id)->Fingerprint(), b.fingerprint);
  EXPECT_EQ(TlsClient(port).Fingerprint(), b.fingerprint);
  (*server)->Stop();
}

}  // namespace
}  // namespace authd::api
