#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Throw-away TLS credentials for the test push service: a self-signed P-256 CA and a server
// certificate it signs, all in memory. Only the CA certificate (public) is ever written out.
namespace webpush::testing::internal {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// ServerCredentials are the server certificate with its key, and the CA certificate as PEM.
struct ServerCredentials {
  std::string ca_pem;
  X509Ptr certificate;
  PkeyPtr key;
};

// GenerateServerCredentials makes a new CA (P-256, self-signed, valid one day) and a server
// certificate for `host_name` with subjectAltName DNS:`host_name`, DNS:localhost and
// IP:127.0.0.1, signed by that CA. Errors are Internal (OpenSSL) or InvalidArgument (host name).
[[nodiscard]] absl::StatusOr<ServerCredentials> GenerateServerCredentials(
    std::string_view host_name);

// ConfigureServerContext sets up `ctx` to serve `credentials`: TLS 1.2 or later, the HTTP/2
// cipher suites of RFC 9113 §9.2.2 for TLS 1.2, and ALPN that picks "h2" if offered, else
// "http/1.1" (a client offering neither is refused; one without ALPN gets HTTP/1.1).
[[nodiscard]] absl::Status ConfigureServerContext(SSL_CTX* ctx,
                                                  const ServerCredentials& credentials);

}  // namespace webpush::testing::internal
