#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dispatcher/config/service_config.h"

// Server is one `webpushd` replica built from its configuration: the job store (Redis or in
// process), the gRPC API with health checking and reflection, the HTTP/2 push client and the
// worker pipeline. main.cc only loads the configuration, starts a Server and waits for a signal;
// tests start the whole service in process the same way.
namespace webpush::dispatcher {}  // namespace webpush::dispatcher
namespace webpush::metrics {
class WebpushMetrics;
}  // namespace webpush::metrics
namespace webpush::dispatcher {

namespace service {
class DispatcherService;
struct ApiStats;
}  // namespace service
namespace worker {
struct PipelineStats;
}  // namespace worker

class Server {
 public:
  // Start builds and starts everything. Fails fast, with one line naming the cause, when the
  // store cannot be reached (after queue.redis.connect_deadline), the port cannot be bound, or a
  // TLS file cannot be read.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Server>> Start(config::ServiceConfig config);
  // Shuts down with the configured grace if Shutdown was not called.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // port is the bound gRPC port (useful with "host:0").
  [[nodiscard]] int port() const;
  // metrics_port is the bound port of /metrics, /healthz and /readyz (0: metrics.listen empty).
  [[nodiscard]] int metrics_port() const;
  [[nodiscard]] const metrics::WebpushMetrics& metrics() const;

  // Shutdown stops taking submissions (UNAVAILABLE, health NOT_SERVING), ends the API calls
  // (watch streams are cancelled), lets the messages in flight be answered for up to `grace`,
  // records their outcomes and hands every unfinished batch back to the queue, then releases
  // everything. Idempotent; thread-safe.
  void Shutdown(absl::Duration grace);

  [[nodiscard]] const service::ApiStats& api_stats() const;
  // pipeline_stats is null when workers are disabled.
  [[nodiscard]] const worker::PipelineStats* pipeline_stats() const;

  struct Parts;  // server.cc

 private:
  explicit Server(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace webpush::dispatcher
