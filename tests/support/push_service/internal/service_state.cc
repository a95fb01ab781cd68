#include "tests/support/push_service/internal/service_state.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <utility>

#include "absl/time/clock.h"
#include "crypto/base64url.h"

namespace webpush::testing::internal {
namespace {

constexpr size_t kTokenBytes = 16;

std::string HexId(uint64_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kHex[n & 0xf]);
    n >>= 4;
  } while (n != 0);
  return out;
}

PushResponse ScriptedFailure(const FaultPlan& plan) {
  PushResponse response =
      ErrorResponse(plan.fail_status, plan.fail_status == 503 ? kErrnoBackOff : kErrnoUnknown,
                    "scripted failure (FaultPlan::fail_first_per_token)");
  if (!plan.retry_after.empty()) {
    response.headers.emplace_back("retry-after", plan.retry_after);
  }
  return response;
}

}  // namespace

ServiceState::ServiceState(std::string origin, std::string endpoint_prefix,
                           std::string expected_vapid_public_key, FaultPlan faults,
                           bool record_deliveries, int decrypt_every_n)
    : origin_(std::move(origin)),
      endpoint_prefix_(std::move(endpoint_prefix)),
      expected_vapid_public_key_(std::move(expected_vapid_public_key)),
      record_deliveries_(record_deliveries),
      decrypt_every_n_(decrypt_every_n),
      faults_(std::make_shared<const FaultPlan>(std::move(faults))) {}

absl::StatusOr<TestSubscription> ServiceState::AddSubscription() {
  absl::StatusOr<crypto::P256KeyPair> key = crypto::P256KeyPair::Generate();
  if (!key.ok()) {
    return key.status();
  }
  absl::StatusOr<crypto::AuthSecret> auth = crypto::GenerateAuthSecret();
  if (!auth.ok()) {
    return auth.status();
  }
  std::array<uint8_t, kTokenBytes> token_bytes{};
  if (RAND_bytes(token_bytes.data(), static_cast<int>(token_bytes.size())) != 1) {
    return absl::InternalError("token: RAND_bytes failed");
  }
  TestSubscription subscription;
  subscription.token = crypto::Base64UrlEncode(token_bytes);
  subscription.endpoint = endpoint_prefix_ + subscription.token;
  subscription.p256dh = key->PublicKeyBase64Url();
  subscription.auth = crypto::Base64UrlEncode(*auth);
  auto record = std::make_shared<SubscriptionRecord>(
      SubscriptionRecord{subscription.token, std::move(*key), *auth});
  absl::MutexLock lock(&mu_);
  subscriptions_[subscription.token] = std::move(record);
  return subscription;
}

std::shared_ptr<const FaultPlan> ServiceState::faults() const {
  absl::MutexLock lock(&mu_);
  return faults_;
}

void ServiceState::SetFaults(const FaultPlan& faults) {
  auto plan = std::make_shared<const FaultPlan>(faults);
  absl::MutexLock lock(&mu_);
  faults_ = std::move(plan);
  requests_per_token_.clear();
  streams_seen_ = 0;
}

uint64_t ServiceState::OnConnectionAccepted() {
  absl::MutexLock lock(&mu_);
  ++stats_.connections_accepted;
  return next_connection_id_++;
}

void ServiceState::OnHttp1Connection() {
  absl::MutexLock lock(&mu_);
  ++stats_.http1_connections;
}

bool ServiceState::OnNewStream() {
  absl::MutexLock lock(&mu_);
  ++streams_seen_;
  const int n = faults_->refuse_every_n_streams;
  if (n > 0 && streams_seen_ % static_cast<uint64_t>(n) == 0) {
    ++stats_.refused_streams;
    return true;
  }
  return false;
}

std::shared_ptr<const SubscriptionRecord> ServiceState::Find(std::string_view token) const {
  absl::MutexLock lock(&mu_);
  auto it = subscriptions_.find(token);
  return it == subscriptions_.end() ? nullptr : it->second;
}

RequestOutcome ServiceState::HandleRequest(const PushRequest& request,
                                           const RequestSource& source) {
  RequestOutcome outcome;
  outcome.decision = Decide(request, source);
  const std::shared_ptr<const FaultPlan> plan = faults();
  const int drop_after = plan->drop_connection_every_n_streams;
  if (drop_after > 0 && source.number_on_connection >= drop_after) {
    if (plan->drop_after_record) {
      outcome.action = RequestOutcome::Action::kDropAfterRecord;
      if (outcome.decision.delivery) {
        RecordDelivery(std::move(*outcome.decision.delivery));
        outcome.decision.delivery.reset();
      }
    } else {
      outcome.action = RequestOutcome::Action::kDropClean;
    }
    OnConnectionDropped();
    return outcome;
  }
  outcome.delay = plan->response_delay;
  return outcome;
}

Decision ServiceState::Decide(const PushRequest& request, const RequestSource& source) {
  Decision decision;
  std::shared_ptr<const FaultPlan> plan;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.requests;
    if (source.http1) {
      ++stats_.http1_requests;
    }
    plan = faults_;
  }
  const std::optional<std::string> token = TokenFromPath(request.path);
  std::shared_ptr<const SubscriptionRecord> subscription = token ? Find(*token) : nullptr;
  std::optional<Rejection> rejection;
  if (!subscription) {
    rejection = Rejection{404, kErrnoInvalidEndpoint, "path: not /push/<known token>"};
  } else if (request.method != "POST") {
    rejection = Rejection{405, kErrnoUnknown, "method: must be POST"};
  }
  if (rejection) {
    absl::MutexLock lock(&mu_);
    AddValidationFailure(rejection->reason);
    decision.response =
        ErrorResponse(rejection->status, rejection->error_number, rejection->reason);
    return decision;
  }
  // Scripted outcomes come before validation: a gone or overloaded service does not look at the
  // message.
  if (plan->gone_tokens.contains(*token)) {
    decision.response = ErrorResponse(plan->gone_status,
                                      plan->gone_status == 404 ? kErrnoInvalidEndpoint : kErrnoGone,
                                      "subscription is gone (FaultPlan::gone_tokens)");
    return decision;
  }
  if (plan->fail_first_per_token > 0) {
    absl::MutexLock lock(&mu_);
    // Counted against the current plan only: SetFaults clears the map and swaps `faults_`
    // together, so a stale `plan` here is at worst one request late.
    if (requests_per_token_[*token]++ < plan->fail_first_per_token) {
      decision.response = ScriptedFailure(*plan);
      return decision;
    }
  }
  ValidationContext context;
  context.audience = origin_;
  context.expected_vapid_public_key = expected_vapid_public_key_;
  context.now = absl::Now();
  context.signature_cache = &signature_cache_;
  // The 1st, (n+1)-th, ... request of each connection: a sender with wrong keys is caught on its
  // first request of every connection.
  context.decrypt_body =
      decrypt_every_n_ <= 1 || (source.number_on_connection - 1) % decrypt_every_n_ == 0;
  Delivery delivery;
  rejection =
      ValidatePushRequest(request, subscription->ua_key, subscription->auth, context, delivery);
  absl::MutexLock lock(&mu_);
  if (rejection) {
    AddValidationFailure(rejection->reason);
    decision.response =
        ErrorResponse(rejection->status, rejection->error_number, rejection->reason);
    return decision;
  }
  if (!delivery.body_decrypted) {
    ++stats_.bodies_not_decrypted;
  }
  delivery.token = *token;
  delivery.connection_id = source.connection_id;
  decision.response.status = 201;
  decision.response.headers.emplace_back("location", "/m/" + HexId(next_message_id_++));
  decision.response.headers.emplace_back("ttl", delivery.ttl);
  decision.delivery = std::move(delivery);
  return decision;
}

void ServiceState::OnAnswered(int status, std::optional<Delivery> delivery) {
  absl::MutexLock lock(&mu_);
  ++stats_.status_counts[status];
  if (delivery) {
    ++stats_.delivered;
    if (record_deliveries_) {
      deliveries_.push_back(std::move(*delivery));
    }
  }
}

void ServiceState::OnMalformedRequest(std::string reason) {
  absl::MutexLock lock(&mu_);
  AddValidationFailure(std::move(reason));
}

void ServiceState::RecordDelivery(Delivery delivery) {
  absl::MutexLock lock(&mu_);
  ++stats_.delivered;
  if (record_deliveries_) {
    deliveries_.push_back(std::move(delivery));
  }
}

void ServiceState::OnGoawaySent() {
  absl::MutexLock lock(&mu_);
  ++stats_.goaways_sent;
}

void ServiceState::OnConnectionDropped() {
  absl::MutexLock lock(&mu_);
  ++stats_.dropped_connections;
}

void ServiceState::ObserveOpenStreams(size_t open) {
  absl::MutexLock lock(&mu_);
  stats_.max_concurrent_streams_seen = std::max<uint64_t>(stats_.max_concurrent_streams_seen, open);
}

void ServiceState::OnConcurrencyViolation() {
  absl::MutexLock lock(&mu_);
  ++stats_.concurrency_violations;
}

void ServiceState::OnRefusedBeforeSettingsAck() {
  absl::MutexLock lock(&mu_);
  ++stats_.streams_refused_before_settings_ack;
}

void ServiceState::AddValidationFailure(std::string reason) {
  if (stats_.validation_failures.size() < Stats::kMaxValidationFailures) {
    stats_.validation_failures.push_back(std::move(reason));
  }
}

Stats ServiceState::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void ServiceState::ResetStats() {
  absl::MutexLock lock(&mu_);
  stats_ = Stats();
}

std::vector<Delivery> ServiceState::Deliveries() const {
  absl::MutexLock lock(&mu_);
  return deliveries_;
}

void ServiceState::ClearDeliveries() {
  absl::MutexLock lock(&mu_);
  deliveries_.clear();
}

}  // namespace webpush::testing::internal
