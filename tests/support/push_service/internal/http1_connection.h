#pragma once

#include <array>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "tests/support/push_service/internal/http1_parser.h"
#include "tests/support/push_service/internal/service_state.h"

// Http1Connection serves one TLS connection that negotiated HTTP/1.1 (ALPN "http/1.1" or no
// ALPN): persistent, requests parsed in sequence by Http1Parser, answered strictly in order
// (pipelined ones too), each decided by ServiceState::HandleRequest exactly as over HTTP/2. All
// handlers run on the connection's strand (the socket's executor), so its state needs no lock.
// The connection keeps itself alive through shared_from_this in its handlers.
namespace webpush::testing::internal {

class Http1Connection : public std::enable_shared_from_this<Http1Connection> {
 public:
  // `tls` has completed its server handshake on a strand; `id` is the connection's id from
  // ServiceState::OnConnectionAccepted; `state` must outlive the io_context.
  Http1Connection(asio::ssl::stream<asio::ip::tcp::socket> tls, uint64_t id, ServiceState& state);
  Http1Connection(const Http1Connection&) = delete;
  Http1Connection& operator=(const Http1Connection&) = delete;

  // Start serves until the peer, a `Connection: close`, a malformed request or a fault closes
  // the connection.
  void Start();

 private:
  // Answer is the response to one request (or a 100 Continue), queued in request order.
  struct Answer {
    bool ready = false;  // false while its response delay runs
    int status = 0;      // 0: an interim 100 Continue, not counted
    std::string bytes;   // status line, header fields and body
    std::optional<Delivery> delivery;
    bool close_after = false;  // `Connection: close` or malformed: nothing after it
    std::unique_ptr<asio::steady_timer> delay;
  };

  void MaybeRead();
  void OnRead(const asio::error_code& ec, size_t n);
  // Process hands the buffered bytes to the parser until it needs more or input stops.
  void Process();
  void OnRequest(const Http1Request& request);
  void OnMalformed(const Http1Error& error);
  // Flush writes the ready answers at the front of the queue (one async write at a time) and
  // reports them to ServiceState; when nothing is left to do, finishes the connection.
  void Flush();
  void FinishGracefully();
  void Close();

  asio::ssl::stream<asio::ip::tcp::socket> tls_;
  ServiceState& state_;
  const uint64_t id_;
  asio::steady_timer deadline_;  // bounds a finished connection whose peer keeps it open
  Http1Parser parser_;

  std::array<uint8_t, 16384> read_buf_{};
  std::string write_buf_;
  std::deque<std::unique_ptr<Answer>> answers_;
  int requests_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool input_done_ = false;    // no more requests are parsed; later bytes are read and discarded
  bool close_queued_ = false;  // an answer with `close_after` was written or is being written
  bool dropping_ = false;      // a clean drop (FaultPlan::drop_connection_every_n_streams)
  bool peer_closed_ = false;   // the peer ended its side; answer what is queued, then close
  bool finishing_ = false;
  bool closed_ = false;
};

}  // namespace webpush::testing::internal
