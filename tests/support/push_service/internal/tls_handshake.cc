#include "tests/support/push_service/internal/tls_handshake.h"

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "tests/support/push_service/internal/h2_connection.h"
#include "tests/support/push_service/internal/http1_connection.h"

namespace webpush::testing::internal {
namespace {

// A handshake that has not finished by then is abandoned.
constexpr std::chrono::seconds kHandshakeTimeout{10};

// Handshake is a connection until its protocol is known.
struct Handshake {
  Handshake(asio::ip::tcp::socket socket, asio::ssl::context& tls, ServiceState& service_state)
      : stream(std::move(socket), tls),
        deadline(stream.get_executor()),
        state(service_state),
        id(service_state.OnConnectionAccepted()) {}

  asio::ssl::stream<asio::ip::tcp::socket> stream;
  asio::steady_timer deadline;
  ServiceState& state;
  const uint64_t id;
};

void OnHandshake(const std::shared_ptr<Handshake>& h, const asio::error_code& ec) {
  h->deadline.cancel();
  if (ec) {
    asio::error_code ignored;
    h->stream.lowest_layer().close(ignored);
    return;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(h->stream.native_handle(), &alpn, &alpn_len);
  // The ALPN callback picked "h2" or "http/1.1" (a client offering neither failed the
  // handshake); no ALPN extension at all means HTTP/1.1.
  if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_len) == "h2") {
    std::make_shared<H2Connection>(std::move(h->stream), h->id, h->state)->Start();
  } else {
    std::make_shared<Http1Connection>(std::move(h->stream), h->id, h->state)->Start();
  }
}

}  // namespace

void ServeTlsConnection(asio::ip::tcp::socket socket, asio::ssl::context& tls,
                        ServiceState& state) {
  auto h = std::make_shared<Handshake>(std::move(socket), tls, state);
  h->deadline.expires_after(kHandshakeTimeout);
  // Weak: a finished handshake must not wait for its timer to be freed.
  h->deadline.async_wait([weak = std::weak_ptr<Handshake>(h)](const asio::error_code& ec) {
    if (std::shared_ptr<Handshake> pending = weak.lock(); pending && !ec) {
      asio::error_code ignored;
      pending->stream.lowest_layer().close(ignored);  // the handshake fails with operation_aborted
    }
  });
  h->stream.async_handshake(asio::ssl::stream_base::server,
                            [h](const asio::error_code& ec) { OnHandshake(h, ec); });
}

}  // namespace webpush::testing::internal
