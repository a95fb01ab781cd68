#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/push_service/test_push_service.h"
#include "webpush/dispatcher/v1/dispatcher.grpc.pb.h"

// A gRPC client of the dispatcher's API for tests, carrying a tenant's token. It depends only on
// the generated API code, so end-to-end tests that talk to webpushd processes use it without
// linking the service.
namespace webpush::testing {

namespace v1 = webpush::dispatcher::v1;

inline constexpr char kTenantToken[] = "acme-token-0123456789abcdef";
inline constexpr char kOtherToken[] = "globex-token-0123456789abcdef";
inline constexpr char kSubject[] = "mailto:ops@acme.example";

// ToTarget turns a test subscription into an API target with `target_id`.
v1::Target ToTarget(const TestSubscription& subscription, std::string target_id);

// ApiClient is a client of the API for one tenant token (empty: no credentials).
class ApiClient {
 public:
  ApiClient(const std::string& address, std::string token);

  // Context makes a client context with the token and a deadline.
  [[nodiscard]] std::unique_ptr<grpc::ClientContext> Context(
      std::chrono::seconds deadline = std::chrono::seconds(30)) const;

  grpc::Status Submit(const v1::SubmitJobRequest& request, v1::SubmitJobResponse* response) const;
  grpc::Status Get(const std::string& job_id, v1::Job* job) const;
  // WatchAll reads the job's events from `after_offset` until the server ends the stream.
  grpc::Status WatchAll(const std::string& job_id, std::vector<v1::JobEvent>* events,
                        std::string after_offset = "", bool skip_progress = false,
                        std::chrono::seconds deadline = std::chrono::seconds(120)) const;
  // Upload sends a header and `targets` in batches of `per_request`.
  grpc::Status Upload(const v1::UploadJobHeader& header, const std::vector<v1::Target>& targets,
                      size_t per_request, v1::SubmitJobResponse* response) const;

  [[nodiscard]] v1::Dispatcher::Stub& stub() const { return *stub_; }
  [[nodiscard]] const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Dispatcher::Stub> stub_;
  std::string token_;
};

}  // namespace webpush::testing
