#include "tests/support/push_service/internal/http1_connection.h"

#include <chrono>
#include <span>
#include <utility>

#include "tests/support/push_service/internal/request_validator.h"

namespace webpush::testing::internal {
namespace {

// A finished connection whose peer keeps it open is closed after this (as over HTTP/2).
constexpr std::chrono::seconds kFinishTimeout{2};
// Reading pauses while this many answers wait to be written (a client pipelining without reading
// its answers).
constexpr size_t kMaxQueuedAnswers = 128;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Serialize writes `response` as an HTTP/1.1 message, with `connection: close` if `close`.
std::string Serialize(const PushResponse& response, bool close) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " ";
  out.append(ReasonPhrase(response.status));
  out.append("\r\n");
  for (const auto& [name, value] : response.headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  out.append("content-length: ").append(std::to_string(response.body.size())).append("\r\n");
  if (close) {
    out.append("connection: close\r\n");
  }
  out.append("\r\n");
  out.append(response.body);
  return out;
}

}  // namespace

Http1Connection::Http1Connection(asio::ssl::stream<asio::ip::tcp::socket> tls, uint64_t id,
                                 ServiceState& state)
    : tls_(std::move(tls)), state_(state), id_(id), deadline_(tls_.get_executor()) {}

void Http1Connection::Start() {
  state_.OnHttp1Connection();
  MaybeRead();
}

void Http1Connection::MaybeRead() {
  if (reading_ || closed_ || peer_closed_ || answers_.size() >= kMaxQueuedAnswers) {
    return;
  }
  reading_ = true;
  tls_.async_read_some(
      asio::buffer(read_buf_),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->OnRead(ec, n); });
}

void Http1Connection::OnRead(const asio::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) {
    return;
  }
  if (ec) {
    // The peer ended the connection (TCP FIN, with or without close_notify): what is queued is
    // still answered (a client may half-close after its last request), then we close.
    if (finishing_ || (ec != asio::error::eof && ec != asio::ssl::error::stream_truncated)) {
      Close();
      return;
    }
    peer_closed_ = true;
    input_done_ = true;
    Flush();
    return;
  }
  // While finishing or after the last request, input is read and discarded, so that closing
  // does not turn into a TCP reset that could destroy our final answers in flight.
  if (!input_done_) {
    parser_.Append(std::span<const uint8_t>(read_buf_.data(), n));
    Process();
  }
  MaybeRead();
}

void Http1Connection::Process() {
  while (!input_done_ && !closed_) {
    Http1Request request;
    Http1Error error;
    switch (parser_.Next(request, error)) {
      case Http1Parser::Event::kNeedMore:
        return;
      case Http1Parser::Event::kContinue: {
        auto answer = std::make_unique<Answer>();
        answer->ready = true;
        answer->bytes = std::string(kContinue);
        answers_.push_back(std::move(answer));
        Flush();
        break;
      }
      case Http1Parser::Event::kRequest:
        OnRequest(request);
        break;
      case Http1Parser::Event::kError:
        OnMalformed(error);
        return;
    }
  }
}

void Http1Connection::OnRequest(const Http1Request& request) {
  ++requests_;
  RequestSource source;
  source.connection_id = id_;
  source.number_on_connection = requests_;
  source.http1 = true;
  RequestOutcome outcome = state_.HandleRequest(request.request, source);
  switch (outcome.action) {
    case RequestOutcome::Action::kAnswer:
      break;
    case RequestOutcome::Action::kDropClean: {
      // This request is not answered; the answers already made for earlier ones are written,
      // those still in their response delay are not (as over HTTP/2), then FIN.
      input_done_ = true;
      dropping_ = true;
      auto first_waiting = answers_.begin();
      while (first_waiting != answers_.end() && (*first_waiting)->ready) {
        ++first_waiting;
      }
      answers_.erase(first_waiting, answers_.end());
      Flush();
      return;
    }
    case RequestOutcome::Action::kDropAfterRecord:
      // Recorded; its answer and every queued one are lost.
      Close();
      return;
  }
  auto answer = std::make_unique<Answer>();
  answer->status = outcome.decision.response.status;
  answer->close_after = !request.keep_alive;
  answer->bytes = Serialize(outcome.decision.response, answer->close_after);
  answer->delivery = std::move(outcome.decision.delivery);
  if (answer->close_after) {
    input_done_ = true;
  }
  if (outcome.delay.count() > 0) {
    answer->delay = std::make_unique<asio::steady_timer>(tls_.get_executor());
    answer->delay->expires_after(outcome.delay);
    // The timer belongs to the answer: destroying the answer (connection closed, clean drop)
    // cancels it, so `a` is valid whenever `ec` is not set.
    answer->delay->async_wait(
        [self = shared_from_this(), a = answer.get()](const asio::error_code& ec) {
          if (ec || self->closed_) {
            return;
          }
          a->ready = true;
          self->Flush();
        });
  } else {
    answer->ready = true;
  }
  answers_.push_back(std::move(answer));
  Flush();
}

void Http1Connection::OnMalformed(const Http1Error& error) {
  state_.OnMalformedRequest(error.reason);
  const int error_number = error.status == 413 ? kErrnoTooLarge : kErrnoUnknown;
  auto answer = std::make_unique<Answer>();
  answer->ready = true;
  answer->status = error.status;
  answer->close_after = true;
  answer->bytes = Serialize(ErrorResponse(error.status, error_number, error.reason), true);
  answers_.push_back(std::move(answer));
  input_done_ = true;
  Flush();
}

void Http1Connection::Flush() {
  if (writing_ || closed_ || finishing_) {
    return;
  }
  std::string out;
  while (!close_queued_ && !answers_.empty() && answers_.front()->ready) {
    Answer& answer = *answers_.front();
    if (answer.status != 0) {
      // Counted and recorded when the answer is handed to TLS, as over HTTP/2 when nghttp2
      // takes the response.
      state_.OnAnswered(answer.status, std::move(answer.delivery));
    }
    out.append(answer.bytes);
    close_queued_ = answer.close_after;
    answers_.pop_front();
  }
  if (close_queued_) {
    answers_.clear();
  }
  if (!out.empty()) {
    write_buf_ = std::move(out);
    writing_ = true;
    asio::async_write(tls_, asio::buffer(write_buf_),
                      [self = shared_from_this()](const asio::error_code& ec, size_t /*n*/) {
                        self->writing_ = false;
                        if (self->closed_) {
                          return;
                        }
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->Flush();
                        self->MaybeRead();
                      });
    return;
  }
  if (close_queued_ || (dropping_ && answers_.empty())) {
    FinishGracefully();
  } else if (peer_closed_ && answers_.empty()) {
    Close();
  }
}

void Http1Connection::FinishGracefully() {
  // Half-close (no TLS close_notify, as over HTTP/2) and let the peer close; the deadline bounds
  // a peer that never does.
  finishing_ = true;
  input_done_ = true;
  asio::error_code ignored;
  tls_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  deadline_.expires_after(kFinishTimeout);
  deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) {
      self->Close();
    }
  });
  MaybeRead();
}

void Http1Connection::Close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  deadline_.cancel();
  answers_.clear();  // cancels the response delays: nothing more is answered or recorded
  asio::error_code ignored;
  tls_.lowest_layer().close(ignored);
}

}  // namespace webpush::testing::internal
