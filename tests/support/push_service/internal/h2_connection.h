#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "tests/support/push_service/internal/request_validator.h"
#include "tests/support/push_service/internal/service_state.h"

// H2Connection is one accepted TLS connection of the test push service with its nghttp2 server
// session. The session never touches the socket: bytes read from TLS go to
// nghttp2_session_mem_recv, and nghttp2_session_mem_send output goes to one async write at a
// time. All handlers of a connection run on its strand (the socket's executor), so its state
// needs no lock. The connection keeps itself alive through shared_from_this in its handlers.
namespace webpush::testing::internal {

class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  // `tls` has completed its server handshake on a strand with ALPN "h2"; `id` is the
  // connection's id from ServiceState::OnConnectionAccepted; `state` must outlive the io_context.
  H2Connection(asio::ssl::stream<asio::ip::tcp::socket> tls, uint64_t id, ServiceState& state);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Start sends our SETTINGS, then serves until the peer or a fault closes the connection.
  void Start();

  // nghttp2 callbacks (h2_connection.cc forwards to these; return 0 or an nghttp2 error code).
  int OnBeginHeaders(int32_t stream_id);
  int OnHeader(int32_t stream_id, std::string_view name, std::string_view value);
  int OnDataChunk(int32_t stream_id, std::span<const uint8_t> data);
  int OnFrameReceived(const nghttp2_frame& frame);
  int OnStreamClosed(int32_t stream_id);
  int OnInvalidFrame(const nghttp2_frame& frame, int lib_error_code);
  ssize_t ReadResponseBody(int32_t stream_id, std::span<uint8_t> out, uint32_t& data_flags);

 private:
  struct Stream {
    int32_t id = 0;
    PushRequest request;
    bool ignored = false;  // refused, or above our GOAWAY's last-stream-id
    std::optional<Delivery> delivery;
    std::string response_body;
    size_t response_offset = 0;
    std::unique_ptr<asio::steady_timer> delay;
  };

  [[nodiscard]] bool InitSession();
  void Read();
  void OnRead(const asio::error_code& ec, size_t n);
  // Flush drains nghttp2's output into one async write; when nothing is left to read or write,
  // starts the graceful finish.
  void Flush();
  void FinishGracefully();
  void FlushThenClose();
  void Close();
  int OnRequestComplete(Stream& stream);
  void Answer(Stream& stream, PushResponse response);
  Stream* FindStream(int32_t stream_id);

  asio::ssl::stream<asio::ip::tcp::socket> tls_;
  ServiceState& state_;
  const uint64_t id_;
  nghttp2_session* session_ = nullptr;
  asio::steady_timer deadline_;  // graceful-finish deadline

  std::array<uint8_t, 16384> read_buf_{};
  std::vector<uint8_t> write_buf_;
  bool writing_ = false;
  bool finishing_ = false;
  bool closed_ = false;
  bool dropping_ = false;
  bool flush_before_drop_ = false;  // clean drop: write the queued answers first
  bool close_when_written_ = false;
  bool draining_for_drop_ = false;  // clean drop under way: input is read and discarded

  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  uint32_t advertised_max_streams_ = 0;
  bool settings_acked_ = false;
  int accepted_streams_ = 0;
  int requests_ = 0;
  std::optional<int32_t> goaway_last_stream_id_;
};

}  // namespace webpush::testing::internal
