#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "metrics/webpush_metrics.h"

// ApiMetricsInterceptorFactory counts every answered gRPC call in webpush_api_requests_total by
// method ("SubmitJob", "Check", ...) and status code ("OK", "RESOURCE_EXHAUSTED", ...), for
// every registered service (the API, health, reflection), without touching the handlers.
namespace webpush::dispatcher::service {

class ApiMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ApiMetricsInterceptorFactory(metrics::WebpushMetrics& metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  metrics::WebpushMetrics& metrics_;
};

// StatusCodeName is the canonical name of a gRPC status code ("OK", "NOT_FOUND", ...).
[[nodiscard]] const char* StatusCodeName(grpc::StatusCode code);

}  // namespace webpush::dispatcher::service
