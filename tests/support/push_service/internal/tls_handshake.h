#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "tests/support/push_service/internal/service_state.h"

namespace webpush::testing::internal {

// ServeTlsConnection counts the accepted `socket` as a connection (ServiceState::
// OnConnectionAccepted), runs the TLS server handshake (bounded by a timeout) and hands the
// stream to an H2Connection when ALPN chose "h2", else (ALPN "http/1.1", or a client that sent no
// ALPN) to an Http1Connection. A failed or timed-out handshake just closes the socket. `socket`
// must have been accepted on a strand; `tls` and `state` must outlive the io_context.
void ServeTlsConnection(asio::ip::tcp::socket socket, asio::ssl::context& tls, ServiceState& state);

}  // namespace webpush::testing::internal
