#include "dispatcher/push/internal/h2_connection.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace webpush::dispatcher::push::internal {
namespace {

constexpr size_t kReadBufferSize = size_t{16} * 1024;
constexpr size_t kMaxWriteBatch = size_t{64} * 1024;
constexpr size_t kMaxBody = 1024;  // enough for any service's error reason

nghttp2_nv Header(std::string_view name, std::string_view value) {
  nghttp2_nv nv;
  nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(name.data()));
  nv.namelen = name.size();
  nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(value.data()));
  nv.valuelen = value.size();
  // Names are literals and values live in the Job until the stream closes.
  nv.flags = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  return nv;
}

H2Connection* Self(void* user_data) { return static_cast<H2Connection*>(user_data); }

}  // namespace

struct H2Connection::Stream {
  std::unique_ptr<Job> job;  // null once the stream timed out (kept until nghttp2 closes it)
  absl::Time deadline;
  size_t body_sent = 0;
  StreamResult result;
};

H2Connection::H2Connection(asio::io_context& io, asio::ssl::context& tls, SessionSlot* sessions,
                           ConnectionSettings settings, ConnectionListener* listener,
                           AtomicStats* stats, uint64_t id)
    : io_(io),
      socket_(io, tls),
      connect_timer_(io),
      sessions_(sessions),
      settings_(std::move(settings)),
      listener_(listener),
      stats_(stats),
      id_(id),
      read_buf_(kReadBufferSize),
      last_activity_(absl::Now()),
      last_received_(last_activity_) {}

H2Connection::~H2Connection() {
  if (session_ != nullptr) {
    nghttp2_session_del(session_);
  }
}

void H2Connection::Connect(std::vector<asio::ip::tcp::endpoint> addresses) {
  auto self = shared_from_this();
  connect_timer_.expires_after(absl::ToChronoNanoseconds(settings_.connect_timeout));
  connect_timer_.async_wait([self](const asio::error_code& ec) {
    if (!ec && (self->state_ == State::kConnecting || self->state_ == State::kWaitingSettings)) {
      self->Fail("connect: timed out");
    }
  });
  if (addresses.empty()) {
    Fail("connect: no address");
    return;
  }
  TryConnect(std::move(addresses), 0);
}

void H2Connection::TryConnect(std::vector<asio::ip::tcp::endpoint> addresses, size_t index) {
  auto self = shared_from_this();
  const asio::ip::tcp::endpoint address = addresses[index];
  socket_.lowest_layer().async_connect(
      address, [self, addresses = std::move(addresses), index](const asio::error_code& ec) mutable {
        if (self->state_ == State::kClosed) {
          return;
        }
        if (ec) {
          asio::error_code ignored;
          self->socket_.lowest_layer().close(ignored);
          if (index + 1 < addresses.size()) {
            self->TryConnect(std::move(addresses), index + 1);
          } else {
            self->Fail("connect: " + ec.message());
          }
          return;
        }
        asio::error_code ignored;
        self->socket_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
        self->Handshake();
      });
}

void H2Connection::Handshake() {
  if (!PrepareClientSsl(socket_.native_handle(), settings_.host, sessions_)) {
    Fail("tls: cannot prepare the connection");
    return;
  }
  auto self = shared_from_this();
  socket_.async_handshake(asio::ssl::stream_base::client, [self](const asio::error_code& ec) {
    if (self->state_ == State::kClosed) {
      return;
    }
    if (ec) {
      // The message names the reason (e.g. "certificate verify failed"), never the endpoint.
      self->Fail("tls: " + ec.message());
      return;
    }
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(self->socket_.native_handle(), &alpn, &alpn_len);
    if (alpn_len != 2 || std::memcmp(alpn, "h2", 2) != 0) {
      self->Fail("tls: the push service did not negotiate HTTP/2 (ALPN h2)");
      return;
    }
    if (SSL_session_reused(self->socket_.native_handle()) == 1) {
      AtomicStats::Add(self->stats_->tls_resumptions);
    }
    if (!self->StartSession()) {
      self->Fail("http2: cannot start the session");
      return;
    }
    self->Read();
    self->Flush();
  });
}

bool H2Connection::StartSession() {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) {
    return false;
  }
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &H2Connection::OnFrameRecv);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &H2Connection::OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &H2Connection::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &H2Connection::OnStreamClose);
  const int rv = nghttp2_session_client_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) {
    session_ = nullptr;
    return false;
  }
  const std::array<nghttp2_settings_entry, 1> entries = {{{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}}};
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries.data(), entries.size()) != 0) {
    return false;
  }
  state_ = State::kWaitingSettings;
  return true;
}

int H2Connection::stream_limit() const {
  if (session_ == nullptr) {
    return 0;
  }
  const uint32_t peer =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return static_cast<int>(std::min<uint32_t>(peer, static_cast<uint32_t>(settings_.max_streams)));
}

bool H2Connection::CanSubmit() const {
  return state_ == State::kReady && active_streams() < stream_limit();
}

void H2Connection::Submit(std::unique_ptr<Job> job, absl::Time now, absl::Time deadline) {
  auto stream = std::make_unique<Stream>();
  Job& j = *job;
  stream->job = std::move(job);
  stream->deadline = deadline;
  std::array<nghttp2_nv, 11> nva;
  size_t n = 0;
  nva[n++] = Header(":method", "POST");
  nva[n++] = Header(":scheme", "https");
  nva[n++] = Header(":authority", settings_.authority);
  nva[n++] = Header(":path", j.path);
  nva[n++] = Header("ttl", j.ttl);
  if (!j.request.urgency.empty()) {
    nva[n++] = Header("urgency", j.request.urgency);
  }
  if (!j.request.topic.empty()) {
    nva[n++] = Header("topic", j.request.topic);
  }
  if (!j.request.authorization.empty()) {
    nva[n++] = Header("authorization", j.request.authorization);
  }
  nghttp2_data_provider provider;
  const bool has_body = !j.request.body.empty();
  if (has_body) {
    nva[n++] = Header("content-encoding", "aes128gcm");
    nva[n++] = Header("content-type", "application/octet-stream");
    nva[n++] = Header("content-length", j.content_length);
    provider.source.ptr = stream.get();
    provider.read_callback = &H2Connection::ReadBody;
  }
  const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), n,
                                            has_body ? &provider : nullptr, nullptr);
  if (id < 0) {
    // Stream ids exhausted or GOAWAY already received: nothing was sent, so it is a refusal.
    // The connection takes no more streams.
    state_ = State::kDraining;
    StreamResult result;
    result.failure = TransportFailure::kRefused;
    completed_.emplace_back(std::move(stream->job), std::move(result));
    auto self = shared_from_this();
    asio::post(io_, [self] { self->Deliver(); });
    return;
  }
  AtomicStats::Add(stats_->streams_opened);
  last_activity_ = now;
  streams_.emplace(id, std::move(stream));
  ScheduleFlush();
}

void H2Connection::ScheduleFlush() {
  // Requests submitted in one turn of the event loop leave in one write (one TLS record run,
  // one syscall) instead of one write each.
  if (flush_scheduled_) {
    return;
  }
  flush_scheduled_ = true;
  auto self = shared_from_this();
  asio::post(io_, [self] {
    self->flush_scheduled_ = false;
    self->Flush();
  });
}

ssize_t H2Connection::ReadBody(nghttp2_session* /*session*/, int32_t /*stream_id*/, uint8_t* buf,
                               size_t length, uint32_t* data_flags, nghttp2_data_source* source,
                               void* /*user_data*/) {
  auto* stream = static_cast<Stream*>(source->ptr);
  if (stream->job == nullptr) {  // timed out; the RST_STREAM is on its way
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  const std::vector<uint8_t>& body = stream->job->request.body;
  const size_t n = std::min(length, body.size() - stream->body_sent);
  std::memcpy(buf, body.data() + stream->body_sent, n);
  stream->body_sent += n;
  if (stream->body_sent == body.size()) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return static_cast<ssize_t>(n);
}

int H2Connection::OnFrameRecv(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                              void* user_data) {
  H2Connection* self = Self(user_data);
  switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
        if (self->state_ == State::kWaitingSettings) {
          self->state_ = State::kReady;
          self->became_ready_ = true;
        } else {
          self->capacity_freed_ = true;  // the peer may have raised its stream limit
        }
      }
      break;
    case NGHTTP2_GOAWAY:
      // nghttp2 closes our streams above last-stream-id with REFUSED_STREAM itself; the ones
      // below finish normally. No new streams go on this connection.
      AtomicStats::Add(self->stats_->goaways);
      if (self->state_ != State::kClosed) {
        self->state_ = State::kDraining;
      }
      break;
    case NGHTTP2_PING:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) {
        self->ping_sent_.reset();
      }
      break;
    default:
      break;
  }
  return 0;
}

int H2Connection::OnHeader(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                           const uint8_t* name, size_t namelen, const uint8_t* value,
                           size_t valuelen, uint8_t /*flags*/, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  H2Connection* self = Self(user_data);
  auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end()) {
    return 0;
  }
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  StreamResult& result = it->second->result;
  if (n == ":status") {
    int status = 0;
    for (const char c : v) {
      status = c >= '0' && c <= '9' && status < 1000 ? status * 10 + (c - '0') : 1000;
    }
    // An interim 1xx answer is followed by the final one.
    result.status = status >= 200 && status < 1000 ? status : 0;
  } else if (n == "retry-after") {
    result.retry_after.assign(v.substr(0, 64));
  }
  return 0;
}

int H2Connection::OnDataChunk(nghttp2_session* /*session*/, uint8_t /*flags*/, int32_t stream_id,
                              const uint8_t* data, size_t len, void* user_data) {
  H2Connection* self = Self(user_data);
  auto it = self->streams_.find(stream_id);
  if (it != self->streams_.end()) {
    std::string& body = it->second->result.body;
    body.append(reinterpret_cast<const char*>(data), std::min(len, kMaxBody - body.size()));
  }
  return 0;
}

int H2Connection::OnStreamClose(nghttp2_session* /*session*/, int32_t stream_id,
                                uint32_t error_code, void* user_data) {
  H2Connection* self = Self(user_data);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) {
    return 0;
  }
  StreamResult result = std::move(it->second->result);
  if (result.status == 0) {
    result.failure = error_code == NGHTTP2_REFUSED_STREAM ? TransportFailure::kRefused
                                                          : TransportFailure::kProtocol;
  }
  // With a final status the service has decided, even if it reset the stream afterwards (a
  // server may RST_STREAM(NO_ERROR) a request body it did not need).
  self->FinishStream(stream_id, std::move(result));
  return 0;
}

void H2Connection::FinishStream(int32_t stream_id, StreamResult result) {
  auto it = streams_.find(stream_id);
  if (it->second->job != nullptr) {
    if (result.failure == TransportFailure::kRefused) {
      AtomicStats::Add(stats_->refused_streams);
    }
    completed_.emplace_back(std::move(it->second->job), std::move(result));
  }
  streams_.erase(it);
  capacity_freed_ = true;
  last_activity_ = last_received_;  // the read that closed the stream
}

void H2Connection::Read() {
  auto self = shared_from_this();
  socket_.async_read_some(asio::buffer(read_buf_), [self](const asio::error_code& ec, size_t n) {
    if (self->state_ == State::kClosed) {
      return;
    }
    if (ec) {
      self->Close(TransportFailure::kConnectionLost);
      return;
    }
    self->last_received_ = absl::Now();
    const ssize_t rv = nghttp2_session_mem_recv(self->session_, self->read_buf_.data(), n);
    if (rv < 0) {
      self->Close(TransportFailure::kProtocol);
      return;
    }
    self->Flush();
    self->Deliver();
    if (self->state_ != State::kClosed) {
      self->Read();
    }
  });
}

void H2Connection::Flush() {
  if (writing_ || session_ == nullptr || state_ == State::kClosed) {
    return;
  }
  write_buf_.clear();
  while (write_buf_.size() < kMaxWriteBatch) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      Close(TransportFailure::kProtocol);
      return;
    }
    if (n == 0) {
      break;
    }
    write_buf_.insert(write_buf_.end(), data, data + n);
  }
  if (write_buf_.empty()) {
    if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
      // GOAWAY exchanged and every stream finished: an orderly end. Marking the TLS shutdown
      // done keeps the session resumable (OpenSSL drops sessions of connections that end
      // abruptly, as it should for lost ones).
      SSL_set_shutdown(socket_.native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
      Close(TransportFailure::kConnectionLost);
    }
    return;
  }
  writing_ = true;
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(write_buf_), [self](const asio::error_code& ec, size_t) {
    self->writing_ = false;
    if (self->state_ == State::kClosed) {
      return;
    }
    if (ec) {
      self->Close(TransportFailure::kConnectionLost);
      return;
    }
    self->Flush();
  });
}

void H2Connection::Deliver() {
  auto self = shared_from_this();  // the listener may drop its reference in OnClosed
  if (became_ready_) {
    became_ready_ = false;
    listener_->OnReady(*this);
  }
  // A listener call may end in another Deliver (e.g. a submit failure closing the connection):
  // the outer call drains whatever the inner one added, so each job is handed over once.
  if (delivering_active_) {
    return;
  }
  delivering_active_ = true;
  while (!completed_.empty()) {
    // Swap through a member so that neither vector reallocates on the next turn.
    delivering_.swap(completed_);
    for (auto& [job, result] : delivering_) {
      listener_->OnStreamDone(*this, std::move(job), std::move(result));
    }
    delivering_.clear();
  }
  delivering_active_ = false;
  if (capacity_freed_ && state_ != State::kClosed) {
    capacity_freed_ = false;
    listener_->OnCapacity(*this);
  }
  if (state_ == State::kClosed && !closed_notified_) {
    closed_notified_ = true;
    if (!failed_reason_.empty()) {
      listener_->OnConnectFailed(*this, failed_reason_);
    }
    listener_->OnClosed(*this);
  }
}

void H2Connection::Fail(const std::string& reason) {
  if (state_ == State::kClosed) {
    return;
  }
  AtomicStats::Add(stats_->connect_failures);
  failed_reason_ = reason;
  Close(TransportFailure::kConnect);
}

void H2Connection::Close(TransportFailure pending_failure) {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  connect_timer_.cancel();
  bool lost_any = false;
  for (auto& [id, stream] : streams_) {
    if (stream->job != nullptr) {
      StreamResult result;
      result.failure = pending_failure;
      completed_.emplace_back(std::move(stream->job), std::move(result));
      lost_any = true;
    }
  }
  streams_.clear();
  if (lost_any) {
    AtomicStats::Add(stats_->connections_lost);
  }
  asio::error_code ignored;
  socket_.lowest_layer().cancel(ignored);
  socket_.lowest_layer().close(ignored);
  Deliver();  // the lost streams and OnClosed go to the listener now
}

void H2Connection::Tick(absl::Time now, absl::Duration ping_interval, absl::Duration ping_timeout) {
  if (state_ == State::kClosed || session_ == nullptr) {
    return;
  }
  bool changed = false;
  for (auto& [id, stream] : streams_) {
    if (stream->job != nullptr && now >= stream->deadline) {
      // Outcome unknown: the service may still accept it. Reset the stream so its slot frees.
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
      StreamResult result;
      result.failure = TransportFailure::kTimeout;
      completed_.emplace_back(std::move(stream->job), std::move(result));
      AtomicStats::Add(stats_->timeouts);
      changed = true;
    }
  }
  if (ping_sent_.has_value() && now - *ping_sent_ > ping_timeout) {
    Close(TransportFailure::kConnectionLost);
    return;
  }
  if (!ping_sent_.has_value() && !streams_.empty() && now - last_received_ > ping_interval) {
    if (nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr) == 0) {
      ping_sent_ = now;
      AtomicStats::Add(stats_->pings_sent);
      changed = true;
    }
  }
  if (changed) {
    Flush();
    Deliver();
  }
}

void H2Connection::Shutdown() {
  if (state_ == State::kClosed) {
    return;
  }
  if (session_ == nullptr) {
    Close(TransportFailure::kConnectionLost);
    return;
  }
  state_ = State::kDraining;
  nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
  Flush();
}

void H2Connection::Abort() { Close(TransportFailure::kConnectionLost); }

}  // namespace webpush::dispatcher::push::internal
