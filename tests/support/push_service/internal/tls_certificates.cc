#include "tests/support/push_service/internal/tls_certificates.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

namespace webpush::testing::internal {
namespace {

// Certificates overlap the start time by an hour (clock skew between test processes is not an
// issue on one machine, but a VM resumed from suspend can be off) and last two days: the
// service is throw-away.
constexpr long kNotBeforeOffsetSeconds = -3600;  // NOLINT(google-runtime-int): OpenSSL's type
constexpr long kValiditySeconds = 2L * 86400;    // NOLINT(google-runtime-int)

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};

absl::Status OpenSslError(std::string_view what) {
  const unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  char buf[256] = {};
  ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  std::string message = "tls: ";
  message.append(what);
  message.append(": ");
  message.append(buf);
  return absl::InternalError(message);
}

absl::StatusOr<PkeyPtr> GenerateP256Key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) {
    return OpenSslError("P-256 key generation");
  }
  return key;
}

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (ext == nullptr) {
    return OpenSslError("certificate extension");
  }
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? absl::OkStatus() : OpenSslError("adding a certificate extension");
}

struct CertificateSpec {
  std::string common_name;
  bool is_ca = false;
  std::string subject_alt_name;  // empty for the CA
};

// MakeCertificate builds an X.509 v3 certificate for `subject_key`, signed by `issuer_key` and
// issued by `issuer` (nullptr: self-signed).
absl::StatusOr<X509Ptr> MakeCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                        X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  std::unique_ptr<BIGNUM, BnFree> serial(BN_new());
  if (!cert || !serial || X509_set_version(cert.get(), 2) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), kNotBeforeOffsetSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds) == nullptr ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("certificate fields");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* org = reinterpret_cast<const unsigned char*>("webpush-dispatcher tests");
  const auto* cn = reinterpret_cast<const unsigned char*>(spec.common_name.c_str());
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, org, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) !=
          1) {
    return OpenSslError("certificate names");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  const bool is_ca = spec.is_ca;
  struct Ext {
    int nid;
    std::string value;
  };
  std::vector<Ext> extensions = {
      {NID_basic_constraints, is_ca ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE"},
      {NID_key_usage, is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  if (!is_ca) {
    extensions.push_back({NID_ext_key_usage, "serverAuth"});
    extensions.push_back({NID_subject_alt_name, spec.subject_alt_name});
  }
  for (const Ext& ext : extensions) {
    if (absl::Status s = AddExtension(cert.get(), &ctx, ext.nid, ext.value); !s.ok()) {
      return s;
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    return OpenSslError("certificate signature");
  }
  return cert;
}

absl::StatusOr<std::string> ToPem(X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError("PEM encoding");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int)
  return std::string(data, static_cast<size_t>(size));
}

bool IsHostName(std::string_view host) {
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
  });
}

// FindProtocol returns the offset in the ALPN list `in` of the protocol name `name` (its length
// byte), or -1.
int FindProtocol(const unsigned char* in, unsigned int in_len, std::string_view name) {
  unsigned int i = 0;
  while (i < in_len) {
    const unsigned int len = in[i];
    if (i + 1 + len > in_len) {
      break;
    }
    if (len == name.size() && std::memcmp(in + i + 1, name.data(), len) == 0) {
      return static_cast<int>(i);
    }
    i += 1 + len;
  }
  return -1;
}

// SelectAlpn is the ALPN callback: "h2" when the client offers it, else "http/1.1". A client
// offering neither fails the handshake (no_application_protocol, RFC 7301 §3.2); a client that
// sends no ALPN extension is not asked and gets HTTP/1.1.
int SelectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_len,
               const unsigned char* in, unsigned int in_len, void* /*arg*/) {
  for (const std::string_view name : {std::string_view("h2"), std::string_view("http/1.1")}) {
    const int at = FindProtocol(in, in_len, name);
    if (at >= 0) {
      *out = in + at + 1;
      *out_len = static_cast<unsigned char>(name.size());
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

}  // namespace

absl::StatusOr<ServerCredentials> GenerateServerCredentials(std::string_view host_name) {
  if (!IsHostName(host_name)) {
    return absl::InvalidArgumentError("host_name: must be a DNS name of letters, digits, - and .");
  }
  absl::StatusOr<PkeyPtr> ca_key = GenerateP256Key();
  if (!ca_key.ok()) {
    return ca_key.status();
  }
  absl::StatusOr<PkeyPtr> server_key = GenerateP256Key();
  if (!server_key.ok()) {
    return server_key.status();
  }
  CertificateSpec ca_spec;
  ca_spec.common_name = "webpush test push service CA";
  ca_spec.is_ca = true;
  absl::StatusOr<X509Ptr> ca = MakeCertificate(ca_spec, ca_key->get(), nullptr, ca_key->get());
  if (!ca.ok()) {
    return ca.status();
  }
  CertificateSpec leaf_spec;
  leaf_spec.common_name = std::string(host_name);
  leaf_spec.subject_alt_name = "DNS:" + std::string(host_name) + ",DNS:localhost,IP:127.0.0.1";
  absl::StatusOr<X509Ptr> leaf =
      MakeCertificate(leaf_spec, server_key->get(), ca->get(), ca_key->get());
  if (!leaf.ok()) {
    return leaf.status();
  }
  absl::StatusOr<std::string> ca_pem = ToPem(ca->get());
  if (!ca_pem.ok()) {
    return ca_pem.status();
  }
  ServerCredentials out;
  out.ca_pem = std::move(*ca_pem);
  out.certificate = std::move(*leaf);
  out.key = std::move(*server_key);
  return out;
}

absl::Status ConfigureServerContext(SSL_CTX* ctx, const ServerCredentials& credentials) {
  // RFC 9113 §9.2: TLS 1.2 or later, no compression, no renegotiation; for TLS 1.2 only the
  // ephemeral-key AEAD suites (§9.2.2), which with an ECDSA certificate are these.
  constexpr const char* kTls12Ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305";
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_use_certificate(ctx, credentials.certificate.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, credentials.key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return OpenSslError("server context");
  }
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  return absl::OkStatus();
}

}  // namespace webpush::testing::internal
