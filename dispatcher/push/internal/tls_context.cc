#include "dispatcher/push/internal/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace webpush::dispatcher::push::internal {
namespace {

int SlotIndex() {
  static const int kIndex = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return kIndex;
}

// OpenSSL calls this when the server issues a session ticket (after the handshake in TLS 1.3).
// Returning 1 keeps the reference, which the slot now owns.
int OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SessionSlot*>(SSL_get_ex_data(ssl, SlotIndex()));
  if (slot == nullptr) {
    return 0;
  }
  slot->Store(session);
  return 1;
}

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) {
    return "unknown error";
  }
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

}  // namespace

absl::StatusOr<SSL_CTX*> MakeClientTlsContext(const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return absl::InternalError("tls: SSL_CTX_new failed: " + OpenSslError());
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                     : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError("ca_file: cannot load CA certificates from '" + ca_file +
                                      "': " + OpenSslError());
  }
  static constexpr unsigned char kAlpn[] = {2, 'h', '2'};
  if (SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn)) != 0) {
    SSL_CTX_free(ctx);
    return absl::InternalError("tls: cannot set ALPN");
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, OnNewSession);
  return ctx;
}

SessionSlot::~SessionSlot() {
  if (session_ != nullptr) {
    SSL_SESSION_free(session_);
  }
}

void SessionSlot::Store(SSL_SESSION* session) {
  if (session_ != nullptr) {
    SSL_SESSION_free(session_);
  }
  session_ = session;
}

void SessionSlot::ApplyTo(SSL* ssl) const {
  if (session_ != nullptr && SSL_SESSION_is_resumable(session_) == 1) {
    SSL_set_session(ssl, session_);
  }
}

bool PrepareClientSsl(SSL* ssl, const std::string& host, SessionSlot* slot) {
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1 ||
      SSL_set_ex_data(ssl, SlotIndex(), slot) != 1) {
    ERR_clear_error();
    return false;
  }
  slot->ApplyTo(ssl);
  return true;
}

}  // namespace webpush::dispatcher::push::internal
