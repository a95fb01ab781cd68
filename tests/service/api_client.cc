#include "tests/service/api_client.h"

#include <algorithm>
#include <utility>

namespace webpush::testing {

v1::Target ToTarget(const TestSubscription& subscription, std::string target_id) {
  v1::Target t;
  t.set_endpoint(subscription.endpoint);
  t.set_p256dh(subscription.p256dh);
  t.set_auth(subscription.auth);
  t.set_target_id(std::move(target_id));
  return t;
}

ApiClient::ApiClient(const std::string& address, std::string token)
    : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
      stub_(v1::Dispatcher::NewStub(channel_)),
      token_(std::move(token)) {}

std::unique_ptr<grpc::ClientContext> ApiClient::Context(std::chrono::seconds deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) {
    context->AddMetadata("authorization", "Bearer " + token_);
  }
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  return context;
}

grpc::Status ApiClient::Submit(const v1::SubmitJobRequest& request,
                               v1::SubmitJobResponse* response) const {
  return stub_->SubmitJob(Context().get(), request, response);
}

grpc::Status ApiClient::Get(const std::string& job_id, v1::Job* job) const {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  return stub_->GetJob(Context().get(), request, job);
}

grpc::Status ApiClient::WatchAll(const std::string& job_id, std::vector<v1::JobEvent>* events,
                                 std::string after_offset, bool skip_progress,
                                 std::chrono::seconds deadline) const {
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_after_offset(std::move(after_offset));
  request.set_skip_progress(skip_progress);
  std::unique_ptr<grpc::ClientContext> context = Context(deadline);
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader =
      stub_->WatchJob(context.get(), request);
  v1::JobEvent event;
  while (reader->Read(&event)) {
    events->push_back(event);
  }
  return reader->Finish();
}

grpc::Status ApiClient::Upload(const v1::UploadJobHeader& header,
                               const std::vector<v1::Target>& targets, size_t per_request,
                               v1::SubmitJobResponse* response) const {
  std::unique_ptr<grpc::ClientContext> context = Context(std::chrono::seconds(120));
  std::unique_ptr<grpc::ClientWriter<v1::UploadJobRequest>> writer =
      stub_->UploadJob(context.get(), response);
  v1::UploadJobRequest first;
  *first.mutable_header() = header;
  bool ok = writer->Write(first);
  for (size_t i = 0; ok && i < targets.size(); i += per_request) {
    v1::UploadJobRequest part;
    for (size_t j = i; j < std::min(targets.size(), i + per_request); ++j) {
      *part.mutable_batch()->add_targets() = targets[j];
    }
    ok = writer->Write(part);
  }
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace webpush::testing
