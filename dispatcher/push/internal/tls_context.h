#pragma once

#include <string>

#include "absl/status/statusor.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

// The client's TLS settings: TLS 1.2 or newer, peer certificate and host name verified against
// the system trust store or a given CA bundle, ALPN offering only h2, and client-side session
// tickets kept per origin so reconnects resume instead of doing a full handshake.
namespace webpush::dispatcher::push::internal {

// MakeClientTlsContext returns a new SSL_CTX (owned by the caller: SSL_CTX_free).
[[nodiscard]] absl::StatusOr<SSL_CTX*> MakeClientTlsContext(const std::string& ca_file);

// SessionSlot holds the newest resumable session of one origin. The context's new-session
// callback stores into the slot attached to the SSL object with AttachSessionSlot.
class SessionSlot {
 public:
  SessionSlot() = default;
  ~SessionSlot();
  SessionSlot(const SessionSlot&) = delete;
  SessionSlot& operator=(const SessionSlot&) = delete;

  void Store(SSL_SESSION* session);  // takes ownership
  // ApplyTo offers the stored session, if any, to a new connection.
  void ApplyTo(SSL* ssl) const;

 private:
  SSL_SESSION* session_ = nullptr;
};

// AttachSessionSlot makes new sessions of `ssl` land in `slot` (which must outlive `ssl`),
// sets SNI and the host name to verify.
[[nodiscard]] bool PrepareClientSsl(SSL* ssl, const std::string& host, SessionSlot* slot);

}  // namespace webpush::dispatcher::push::internal
