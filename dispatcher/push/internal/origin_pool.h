#pragma once

#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dispatcher/push/internal/h2_connection.h"
#include "dispatcher/push/internal/push_job.h"
#include "dispatcher/push/internal/tls_context.h"

// One push-service origin: a queue of jobs, a bounded set of HTTP/2 connections opened as load
// needs them, retry back-off per job, and a pause of the whole origin when it answers 429.
// Everything runs on the client's event loop thread.
namespace webpush::dispatcher::push::internal {

// ClientShared is what every pool of one client uses.
struct ClientShared {
  asio::io_context* io = nullptr;
  asio::ssl::context* tls = nullptr;
  const PushClientOptions* options = nullptr;
  const EndpointPolicy* policy = nullptr;
  AtomicStats* stats = nullptr;
  uint64_t next_connection_id = 1;
  std::mt19937_64 rng{std::random_device{}()};  // jitter only, not secrets
};

class OriginPool final : public ConnectionListener {
 public:
  // `service` is the push service's metrics name (Endpoint::service), copied into every outcome.
  OriginPool(ClientShared& shared, std::string host, uint16_t port, std::string service);
  ~OriginPool() override;
  OriginPool(const OriginPool&) = delete;
  OriginPool& operator=(const OriginPool&) = delete;

  void Enqueue(std::unique_ptr<Job> job);
  // Tick promotes due retries, enforces deadlines and liveness, closes idle connections.
  void Tick(absl::Time now);
  // Stop completes every job still here as kRetry ("client stopped") and closes connections.
  void Stop();

  void OnReady(H2Connection& connection) override;
  void OnConnectFailed(H2Connection& connection, const std::string& reason) override;
  void OnStreamDone(H2Connection& connection, std::unique_ptr<Job> job,
                    StreamResult result) override;
  void OnCapacity(H2Connection& connection) override;
  void OnClosed(H2Connection& connection) override;

  // For the gauges: connections past their handshake, streams open on them, jobs waiting.
  [[nodiscard]] int connections_open() const;
  [[nodiscard]] int streams_in_flight() const;
  [[nodiscard]] size_t queued() const { return pending_.size() + delayed_.size(); }
  [[nodiscard]] const std::string& service() const { return service_; }

 private:
  void Pump();
  void OpenConnection();
  void ConnectTo(const std::shared_ptr<H2Connection>& connection,
                 std::vector<asio::ip::tcp::endpoint> addresses);
  void FailPending(PushResult result, const std::string& reason, bool counts_as_attempt);
  void Retry(std::unique_ptr<Job> job, absl::Time now);
  void Complete(std::unique_ptr<Job> job);
  absl::Duration Backoff(int attempt, absl::Duration min, absl::Duration max);

  ClientShared& shared_;
  const PushClientOptions& options_;
  std::string service_;
  std::string host_;
  uint16_t port_;
  std::string authority_;
  SessionSlot sessions_;
  asio::ip::tcp::resolver resolver_;
  std::deque<std::unique_ptr<Job>> pending_;
  std::multimap<absl::Time, std::unique_ptr<Job>> delayed_;
  std::vector<std::shared_ptr<H2Connection>> connections_;
  int consecutive_connect_failures_ = 0;
  absl::Time reconnect_not_before_ = absl::InfinitePast();
  absl::Time paused_until_ = absl::InfinitePast();
  bool stopping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards resolver callbacks
};

}  // namespace webpush::dispatcher::push::internal
