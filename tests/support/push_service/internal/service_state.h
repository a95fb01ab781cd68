#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crypto/keys.h"
#include "tests/support/push_service/internal/request_validator.h"
#include "tests/support/push_service/test_push_service.h"

// ServiceState is everything the connections of one TestPushService share: subscriptions, the
// fault plan, counters and deliveries. Connections call it from any io_context thread; every
// member is thread-safe. Crypto (VAPID verification, decryption) runs outside the lock.
namespace webpush::testing::internal {

// SubscriptionRecord is the browser side of a subscription: its private key and auth secret.
struct SubscriptionRecord {
  std::string token;
  crypto::P256KeyPair ua_key;
  crypto::AuthSecret auth{};
};

// Decision is the answer to one complete request; `delivery` is set when it is a 201.
struct Decision {
  PushResponse response;
  std::optional<Delivery> delivery;
};

// RequestSource says where a complete request came from.
struct RequestSource {
  uint64_t connection_id = 0;
  int number_on_connection = 1;  // 1 for the connection's first complete request
  bool http1 = false;
};

// RequestOutcome is what a connection does with one complete request, whatever its protocol.
struct RequestOutcome {
  enum class Action {
    // Send `decision.response` after `delay`, and report it with OnAnswered (which records the
    // delivery) when it is actually sent.
    kAnswer,
    // FaultPlan::drop_connection_every_n_streams, clean: do not answer this request, write the
    // answers already queued, then close the TCP connection (no GOAWAY, no close_notify).
    kDropClean,
    // The same with drop_after_record: the delivery is already recorded; close at once, so the
    // answers still queued are lost.
    kDropAfterRecord,
  };
  Action action = Action::kAnswer;
  Decision decision;
  std::chrono::milliseconds delay{0};
};

class ServiceState {
 public:
  // `origin` is the expected VAPID `aud`; endpoints are `endpoint_prefix` + token.
  // `record_deliveries` false keeps only the counters, `decrypt_every_n` > 1 skips decrypting
  // most bodies (see TestPushService::Options).
  ServiceState(std::string origin, std::string endpoint_prefix,
               std::string expected_vapid_public_key, FaultPlan faults, bool record_deliveries,
               int decrypt_every_n);

  // AddSubscription makes a new key pair, auth secret and token. Internal on CSPRNG failure.
  [[nodiscard]] absl::StatusOr<TestSubscription> AddSubscription();

  [[nodiscard]] std::shared_ptr<const FaultPlan> faults() const;
  // SetFaults swaps the plan and restarts its per-token and per-server counters.
  void SetFaults(const FaultPlan& faults);

  // OnConnectionAccepted counts a connection and returns its id (1, 2, ...).
  uint64_t OnConnectionAccepted();
  // OnHttp1Connection counts a connection that negotiated HTTP/1.1.
  void OnHttp1Connection();
  // OnNewStream counts a stream over the whole server and returns true when
  // FaultPlan::refuse_every_n_streams says to refuse it (counted as refused).
  [[nodiscard]] bool OnNewStream();
  // HandleRequest is the decision both protocols share for one complete request: counts it,
  // validates it (the README's table: token, method, the gone and fail-first rules, headers,
  // VAPID, body), then applies the fault plan's connection drop and response delay. Records a
  // delivery only for kDropAfterRecord; otherwise the connection reports the answer with
  // OnAnswered once it is sent.
  [[nodiscard]] RequestOutcome HandleRequest(const PushRequest& request,
                                             const RequestSource& source);
  // OnAnswered counts a submitted response and records `delivery` if set.
  void OnAnswered(int status, std::optional<Delivery> delivery);
  // OnMalformedRequest keeps `reason` as a validation failure for HTTP/1.1 input that could not
  // be framed as a request (400, 411, 413, 431, 505). Such input is not counted in
  // Stats::requests; its answer is counted with OnAnswered like any other.
  void OnMalformedRequest(std::string reason);

  void OnGoawaySent();
  void OnConnectionDropped();
  // ObserveOpenStreams updates the per-connection maximum of concurrently open streams.
  void ObserveOpenStreams(size_t open);
  void OnConcurrencyViolation();
  void OnRefusedBeforeSettingsAck();

  [[nodiscard]] Stats stats() const;
  void ResetStats();
  [[nodiscard]] std::vector<Delivery> Deliveries() const;
  void ClearDeliveries();

 private:
  // Decide validates one complete request and applies the fault plan's gone and fail-first
  // rules. Counts the request and any validation failure; records nothing.
  [[nodiscard]] Decision Decide(const PushRequest& request, const RequestSource& source);
  // RecordDelivery records a delivery that gets no answer (FaultPlan::drop_after_record).
  void RecordDelivery(Delivery delivery);
  [[nodiscard]] std::shared_ptr<const SubscriptionRecord> Find(std::string_view token) const;
  void AddValidationFailure(std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string origin_;
  const std::string endpoint_prefix_;
  const std::string expected_vapid_public_key_;
  const bool record_deliveries_;
  const int decrypt_every_n_;
  VapidSignatureCache signature_cache_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const SubscriptionRecord>, std::less<>> subscriptions_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const FaultPlan> faults_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int, std::less<>> requests_per_token_ ABSL_GUARDED_BY(mu_);
  uint64_t streams_seen_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_connection_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_message_id_ ABSL_GUARDED_BY(mu_) = 1;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<Delivery> deliveries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace webpush::testing::internal
