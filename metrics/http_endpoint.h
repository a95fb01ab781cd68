#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

// HttpEndpoint is the small HTTP/1.1 server of the metrics port: GET /metrics for Prometheus,
// and the Kubernetes probes /healthz and /readyz. prometheus-cpp's own exposer serves only
// metric collections (no status codes of our choosing), hence this one.
//
// One thread; one request per connection (Connection: close), read with a deadline, so that a
// slow or stuck client delays a scrape by at most a few seconds and never blocks the service.
namespace webpush::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the endpoint's thread with the request path (query stripped); GET and HEAD only.
using HttpHandler = std::function<HttpResponse(std::string_view path)>;

class HttpEndpoint {
 public:
  // Start listens on `listen` ("host:port", "[v6]:port"; port 0 picks one) and serves until
  // destroyed. Errors name the field `metrics.listen`.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(std::string_view listen,
                                                                           HttpHandler handler);
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  [[nodiscard]] int port() const;

  class Impl;

 private:
  explicit HttpEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::metrics
