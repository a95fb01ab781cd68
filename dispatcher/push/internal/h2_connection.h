#pragma once

#define ASIO_STANDALONE 1
#define ASIO_NO_DEPRECATED 1
#include <nghttp2/nghttp2.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dispatcher/push/internal/push_job.h"
#include "dispatcher/push/internal/tls_context.h"

// One TLS connection speaking HTTP/2 to one push-service origin. nghttp2 never touches the
// socket: bytes read from the TLS stream go into nghttp2_session_mem_recv, and what
// nghttp2_session_mem_send produces is written out, one write at a time. All members run on the
// client's event loop thread.
namespace webpush::dispatcher::push::internal {

class H2Connection;

// StreamResult is how one stream ended: an HTTP answer, or a transport failure.
struct StreamResult {
  int status = 0;
  std::string retry_after;
  std::string body;  // first kMaxBody bytes of the answer, for the reason
  std::optional<TransportFailure> failure;
};

// The origin pool listens to its connections. Calls never happen inside nghttp2 callbacks, so
// the listener may submit, close or drop connections from them.
class ConnectionListener {
 public:
  virtual ~ConnectionListener() = default;
  virtual void OnReady(H2Connection& connection) = 0;  // first SETTINGS arrived
  virtual void OnConnectFailed(H2Connection& connection, const std::string& reason) = 0;
  virtual void OnStreamDone(H2Connection& connection, std::unique_ptr<Job> job,
                            StreamResult result) = 0;
  virtual void OnCapacity(H2Connection& connection) = 0;  // streams may be submitted again
  virtual void OnClosed(H2Connection& connection) = 0;    // gone for good; drop it
};

struct ConnectionSettings {
  std::string host;       // for SNI and certificate verification
  std::string authority;  // :authority, host[:port]
  int max_streams = 100;  // our own bound
  absl::Duration connect_timeout;
};

class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  enum class State { kConnecting, kWaitingSettings, kReady, kDraining, kClosed };

  H2Connection(asio::io_context& io, asio::ssl::context& tls, SessionSlot* sessions,
               ConnectionSettings settings, ConnectionListener* listener, AtomicStats* stats,
               uint64_t id);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Connect tries the addresses in order, then does the TLS handshake (ALPN must pick h2) and
  // sends our SETTINGS. Ends in OnReady or OnConnectFailed.
  void Connect(std::vector<asio::ip::tcp::endpoint> addresses);

  // CanSubmit: ready, not draining, and below min(our bound, the peer's
  // SETTINGS_MAX_CONCURRENT_STREAMS).
  [[nodiscard]] bool CanSubmit() const;
  [[nodiscard]] int active_streams() const { return static_cast<int>(streams_.size()); }
  [[nodiscard]] int stream_limit() const;
  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] uint64_t id() const { return id_; }
  [[nodiscard]] absl::Time last_activity() const { return last_activity_; }

  // Submit opens a stream for `job` (CanSubmit() must hold). On a local failure the job comes
  // back through OnStreamDone as refused.
  void Submit(std::unique_ptr<Job> job, absl::Time now, absl::Time deadline);

  // Tick enforces request deadlines and liveness: streams past their deadline are reset and end
  // as kTimeout; a PING goes out when streams have waited `ping_interval` with nothing received,
  // and a PING unanswered for `ping_timeout` closes the connection as lost.
  void Tick(absl::Time now, absl::Duration ping_interval, absl::Duration ping_timeout);

  // Shutdown sends GOAWAY and closes once the open streams finish (idle close, client stop).
  void Shutdown();
  // Abort closes now; open streams end as kConnectionLost.
  void Abort();

 private:
  struct Stream;

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user_data);
  static int OnDataChunk(nghttp2_session* session, uint8_t flags, int32_t stream_id,
                         const uint8_t* data, size_t len, void* user_data);
  static int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                           void* user_data);
  static ssize_t ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  void TryConnect(std::vector<asio::ip::tcp::endpoint> addresses, size_t index);
  void Handshake();
  bool StartSession();
  void Read();
  void Flush();
  void ScheduleFlush();
  void Deliver();  // hands completed streams and events to the listener, outside nghttp2
  void Fail(const std::string& reason);
  // Close ends the connection: open streams end with `pending_failure`, and they and OnClosed
  // are delivered to the listener before it returns.
  void Close(TransportFailure pending_failure);
  void FinishStream(int32_t stream_id, StreamResult result);

  asio::io_context& io_;
  asio::ssl::stream<asio::ip::tcp::socket> socket_;
  asio::steady_timer connect_timer_;
  SessionSlot* sessions_;
  ConnectionSettings settings_;
  ConnectionListener* listener_;
  AtomicStats* stats_;
  uint64_t id_;
  State state_ = State::kConnecting;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<uint8_t> read_buf_;
  std::vector<uint8_t> write_buf_;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  bool became_ready_ = false;  // events gathered during mem_recv, delivered afterwards
  bool capacity_freed_ = false;
  bool closed_notified_ = false;
  bool delivering_active_ = false;
  std::string failed_reason_;
  std::vector<std::pair<std::unique_ptr<Job>, StreamResult>> completed_;
  std::vector<std::pair<std::unique_ptr<Job>, StreamResult>> delivering_;
  absl::Time last_activity_;
  absl::Time last_received_;
  std::optional<absl::Time> ping_sent_;
};

}  // namespace webpush::dispatcher::push::internal
