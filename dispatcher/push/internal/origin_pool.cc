#include "dispatcher/push/internal/origin_pool.h"

#include <algorithm>

namespace webpush::dispatcher::push::internal {
namespace {

PushOutcome FailureOutcome(TransportFailure failure, std::string reason) {
  PushOutcome outcome;
  outcome.result = PushResult::kRetry;
  outcome.transport = failure;
  outcome.reason = reason.empty() ? std::string(TransportFailureName(failure)) : std::move(reason);
  return outcome;
}

}  // namespace

OriginPool::OriginPool(ClientShared& shared, std::string host, uint16_t port, std::string service)
    : shared_(shared),
      options_(*shared.options),
      service_(std::move(service)),
      host_(std::move(host)),
      port_(port),
      authority_(port == 443 ? host_ : host_ + ":" + std::to_string(port)),
      resolver_(*shared.io) {}

OriginPool::~OriginPool() { *alive_ = false; }

int OriginPool::connections_open() const {
  return static_cast<int>(
      std::count_if(connections_.begin(), connections_.end(), [](const auto& c) {
        return c->state() == H2Connection::State::kReady ||
               c->state() == H2Connection::State::kDraining;
      }));
}

int OriginPool::streams_in_flight() const {
  int n = 0;
  for (const auto& c : connections_) {
    n += c->active_streams();
  }
  return n;
}

void OriginPool::Enqueue(std::unique_ptr<Job> job) {
  if (stopping_) {
    job->last = FailureOutcome(TransportFailure::kConnect, "client stopped");
    Complete(std::move(job));
    return;
  }
  if (pending_.size() + delayed_.size() >= options_.max_pending_per_origin) {
    job->last = FailureOutcome(TransportFailure::kConnect, "overloaded: origin queue is full");
    Complete(std::move(job));
    return;
  }
  pending_.push_back(std::move(job));
  Pump();
}

void OriginPool::Pump() {
  if (stopping_) {
    return;
  }
  const absl::Time now = absl::Now();
  if (now < paused_until_) {
    return;  // the origin asked us to slow down; Tick resumes
  }
  while (!pending_.empty()) {
    H2Connection* target = nullptr;
    for (const auto& connection : connections_) {
      if (connection->CanSubmit()) {
        target = connection.get();
        break;
      }
    }
    if (target == nullptr) {
      break;
    }
    std::unique_ptr<Job> job = std::move(pending_.front());
    pending_.pop_front();
    job->started = now;
    target->Submit(std::move(job), now, now + options_.request_timeout);
  }
  const bool connecting = std::any_of(connections_.begin(), connections_.end(), [](const auto& c) {
    return c->state() == H2Connection::State::kConnecting ||
           c->state() == H2Connection::State::kWaitingSettings;
  });
  if (pending_.empty() || connecting || now < reconnect_not_before_) {
    return;
  }
  const auto usable = std::count_if(connections_.begin(), connections_.end(), [](const auto& c) {
    return c->state() == H2Connection::State::kReady;
  });
  if (usable < options_.max_connections_per_origin) {
    OpenConnection();
  }
}

void OriginPool::OpenConnection() {
  ConnectionSettings settings;
  settings.host = host_;
  settings.authority = authority_;
  settings.max_streams = options_.max_streams_per_connection;
  settings.connect_timeout = options_.connect_timeout;
  auto connection =
      std::make_shared<H2Connection>(*shared_.io, *shared_.tls, &sessions_, std::move(settings),
                                     this, shared_.stats, shared_.next_connection_id++);
  connections_.push_back(connection);
  for (const ResolveOverride& o : options_.resolve) {
    if (o.host == host_ && o.port == port_) {
      asio::error_code ec;
      const asio::ip::address address = asio::ip::make_address(o.address, ec);
      ConnectTo(connection, {asio::ip::tcp::endpoint(address, port_)});
      return;
    }
  }
  std::weak_ptr<bool> alive = alive_;
  resolver_.async_resolve(
      host_, std::to_string(port_),
      [this, alive, connection](const asio::error_code& ec,
                                const asio::ip::tcp::resolver::results_type& results) {
        if (alive.expired()) {
          return;
        }
        if (ec) {
          connection->Connect({});  // fails with "no address" and takes the normal path
          return;
        }
        std::vector<asio::ip::tcp::endpoint> addresses;
        std::string refused;
        for (const auto& entry : results) {
          const absl::Status allowed =
              shared_.policy->CheckAddress(host_, entry.endpoint().address().to_string());
          if (allowed.ok()) {
            addresses.push_back(entry.endpoint());
          } else {
            refused = std::string(allowed.message());
          }
        }
        if (addresses.empty() && !refused.empty()) {
          // A listed name pointing into private address space (DNS rebinding): never contact
          // it, and do not retry what the guard will refuse again.
          connection->Abort();
          FailPending(PushResult::kRejected, refused, true);
          return;
        }
        ConnectTo(connection, std::move(addresses));
      });
}

void OriginPool::ConnectTo(const std::shared_ptr<H2Connection>& connection,
                           std::vector<asio::ip::tcp::endpoint> addresses) {
  AtomicStats::Add(shared_.stats->connections_opened);
  connection->Connect(std::move(addresses));
}

void OriginPool::OnReady(H2Connection& /*connection*/) {
  consecutive_connect_failures_ = 0;
  Pump();
}

void OriginPool::OnConnectFailed(H2Connection& /*connection*/, const std::string& reason) {
  ++consecutive_connect_failures_;
  reconnect_not_before_ =
      absl::Now() + Backoff(consecutive_connect_failures_, options_.reconnect_backoff_min,
                            options_.reconnect_backoff_max);
  const bool any_ready = std::any_of(connections_.begin(), connections_.end(), [](const auto& c) {
    return c->state() == H2Connection::State::kReady;
  });
  if (!any_ready) {
    // Nothing was sent: every waiting job has spent an attempt on this origin being unreachable.
    FailPending(PushResult::kRetry, reason, true);
  }
}

void OriginPool::FailPending(PushResult result, const std::string& reason, bool counts_as_attempt) {
  std::deque<std::unique_ptr<Job>> jobs;
  jobs.swap(pending_);
  for (auto& job : jobs) {
    job->last = FailureOutcome(TransportFailure::kConnect, reason);
    job->last.result = result;
    if (counts_as_attempt) {
      ++job->attempts;
    }
    if (result == PushResult::kRetry && job->attempts < options_.max_attempts && !stopping_) {
      Retry(std::move(job), absl::Now());
    } else {
      Complete(std::move(job));
    }
  }
}

void OriginPool::OnStreamDone(H2Connection& /*connection*/, std::unique_ptr<Job> job,
                              StreamResult result) {
  const absl::Time now = absl::Now();  // for back-off, and the request latency metric
  if (stopping_) {
    job->last = FailureOutcome(TransportFailure::kConnectionLost, "client stopped");
    Complete(std::move(job));
    return;
  }
  if (result.failure == TransportFailure::kRefused) {
    // Guaranteed unprocessed (REFUSED_STREAM, or above a GOAWAY's last-stream-id): re-send at
    // the front of the queue, on whichever connection can take it, without spending an attempt.
    if (++job->refusals <= options_.max_refusals) {
      pending_.push_front(std::move(job));
      Pump();
      return;
    }
    job->last = FailureOutcome(TransportFailure::kRefused, "refused too many times");
    Complete(std::move(job));
    return;
  }
  ++job->attempts;
  if (result.failure.has_value()) {
    job->last = FailureOutcome(*result.failure, "");
  } else {
    AtomicStats::Add(shared_.stats->responses);
    const Classification c =
        ClassifyResponse(result.status, host_, result.retry_after, result.body, now);
    PushOutcome outcome;
    outcome.result = c.result;
    outcome.status = result.status;
    outcome.reason = c.reason;
    outcome.retry_after = c.retry_after;
    outcome.origin_throttled = c.origin_throttled;
    if (job->started != absl::InfinitePast()) {
      outcome.request_duration = now - job->started;
    }
    job->last = std::move(outcome);
    if (c.origin_throttled) {
      AtomicStats::Add(shared_.stats->origin_throttles);
      const absl::Duration pause = std::min(c.retry_after.value_or(options_.default_throttle_pause),
                                            options_.max_origin_pause);
      paused_until_ = std::max(paused_until_, now + pause);
    }
  }
  if (job->last.result == PushResult::kRetry && job->attempts < options_.max_attempts) {
    Retry(std::move(job), now);
  } else {
    Complete(std::move(job));
  }
  Pump();
}

void OriginPool::Retry(std::unique_ptr<Job> job, absl::Time now) {
  AtomicStats::Add(shared_.stats->retries);
  absl::Duration delay =
      Backoff(job->attempts, options_.retry_backoff_min, options_.retry_backoff_max);
  if (job->last.retry_after.has_value()) {
    delay = std::min(*job->last.retry_after, options_.max_origin_pause);
  }
  job->not_before = now + delay;
  const absl::Time due = job->not_before;
  delayed_.emplace(due, std::move(job));
}

void OriginPool::Complete(std::unique_ptr<Job> job) {
  PushOutcome outcome = std::move(job->last);
  outcome.attempts = job->attempts;
  outcome.push_service = service_;
  AtomicStats& s = *shared_.stats;
  switch (outcome.result) {
    case PushResult::kDelivered:
      AtomicStats::Add(s.delivered);
      break;
    case PushResult::kGone:
      AtomicStats::Add(s.gone);
      break;
    case PushResult::kTooLarge:
      AtomicStats::Add(s.too_large);
      break;
    case PushResult::kRejected:
      AtomicStats::Add(s.rejected);
      break;
    case PushResult::kRetry:
      AtomicStats::Add(s.failed);
      break;
  }
  PushCallback done = std::move(job->done);
  job.reset();
  done(std::move(outcome));
}

void OriginPool::OnCapacity(H2Connection& /*connection*/) { Pump(); }

void OriginPool::OnClosed(H2Connection& connection) {
  connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                    [&](const auto& c) { return c.get() == &connection; }),
                     connections_.end());
  Pump();
}

void OriginPool::Tick(absl::Time now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    pending_.push_back(std::move(delayed_.begin()->second));
    delayed_.erase(delayed_.begin());
  }
  // Ticking may close connections, which removes them from connections_: iterate a copy.
  const std::vector<std::shared_ptr<H2Connection>> connections = connections_;
  for (const auto& connection : connections) {
    connection->Tick(now, options_.ping_interval, options_.ping_timeout);
    if (connection->state() == H2Connection::State::kReady && connection->active_streams() == 0 &&
        pending_.empty() && now - connection->last_activity() > options_.idle_timeout) {
      connection->Shutdown();
    }
  }
  Pump();
}

void OriginPool::Stop() {
  stopping_ = true;
  resolver_.cancel();
  const std::vector<std::shared_ptr<H2Connection>> connections = connections_;
  for (const auto& connection : connections) {
    connection->Abort();
  }
  for (auto& [due, job] : delayed_) {
    pending_.push_back(std::move(job));
  }
  delayed_.clear();
  std::deque<std::unique_ptr<Job>> jobs;
  jobs.swap(pending_);
  for (auto& job : jobs) {
    if (job->last.reason.empty()) {
      job->last = FailureOutcome(TransportFailure::kConnect, "client stopped");
    }
    Complete(std::move(job));
  }
}

absl::Duration OriginPool::Backoff(int attempt, absl::Duration min, absl::Duration max) {
  absl::Duration delay = min;
  for (int i = 1; i < attempt && delay < max; ++i) {
    delay *= 2;
  }
  delay = std::min(delay, max);
  // Full jitter on the upper half, so that a burst of failures does not retry in lockstep.
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return delay * jitter(shared_.rng);
}

}  // namespace webpush::dispatcher::push::internal
