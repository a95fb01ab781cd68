#include "tests/support/push_service/internal/h2_connection.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

namespace webpush::testing::internal {
namespace {

// A finished connection whose peer keeps it open is closed after this.
constexpr std::chrono::seconds kFinishTimeout{2};
// nghttp2 output is gathered into writes of about this size.
constexpr size_t kMaxWriteSize = size_t{64} * 1024;
// Header fields kept per request; more are ignored (a push request has about ten).
constexpr size_t kMaxHeaderFields = 64;

H2Connection* Self(void* user_data) { return static_cast<H2Connection*>(user_data); }

bool IsRequestHeaders(const nghttp2_frame* frame) {
  return frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST;
}

int OnBeginHeadersCallback(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                           void* user_data) {
  return IsRequestHeaders(frame) ? Self(user_data)->OnBeginHeaders(frame->hd.stream_id) : 0;
}

int OnHeaderCallback(nghttp2_session* /*session*/, const nghttp2_frame* frame, const uint8_t* name,
                     size_t name_len, const uint8_t* value, size_t value_len, uint8_t /*flags*/,
                     void* user_data) {
  if (!IsRequestHeaders(frame)) {
    return 0;  // trailers carry nothing a push service reads
  }
  return Self(user_data)->OnHeader(
      frame->hd.stream_id, std::string_view(reinterpret_cast<const char*>(name), name_len),
      std::string_view(reinterpret_cast<const char*>(value), value_len));
}

int OnDataChunkCallback(nghttp2_session* /*session*/, uint8_t /*flags*/, int32_t stream_id,
                        const uint8_t* data, size_t len, void* user_data) {
  return Self(user_data)->OnDataChunk(stream_id, std::span<const uint8_t>(data, len));
}

int OnFrameRecvCallback(nghttp2_session* /*session*/, const nghttp2_frame* frame, void* user_data) {
  return Self(user_data)->OnFrameReceived(*frame);
}

int OnStreamCloseCallback(nghttp2_session* /*session*/, int32_t stream_id, uint32_t /*error_code*/,
                          void* user_data) {
  return Self(user_data)->OnStreamClosed(stream_id);
}

int OnInvalidFrameCallback(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                           int lib_error_code, void* user_data) {
  return Self(user_data)->OnInvalidFrame(*frame, lib_error_code);
}

ssize_t ReadBodyCallback(nghttp2_session* /*session*/, int32_t stream_id, uint8_t* buf,
                         size_t length, uint32_t* data_flags, nghttp2_data_source* /*source*/,
                         void* user_data) {
  return Self(user_data)->ReadResponseBody(stream_id, std::span<uint8_t>(buf, length), *data_flags);
}

nghttp2_nv MakeNv(const std::string& name, const std::string& value) {
  nghttp2_nv nv;
  // nghttp2 copies names and values when the response is submitted (no NO_COPY flags).
  nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(name.data()));
  nv.namelen = name.size();
  nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(value.data()));
  nv.valuelen = value.size();
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

}  // namespace

H2Connection::H2Connection(asio::ssl::stream<asio::ip::tcp::socket> tls, uint64_t id,
                           ServiceState& state)
    : tls_(std::move(tls)), state_(state), id_(id), deadline_(tls_.get_executor()) {}

H2Connection::~H2Connection() {
  if (session_ != nullptr) {
    nghttp2_session_del(session_);
  }
}

void H2Connection::Start() {
  if (!InitSession()) {
    Close();
    return;
  }
  Flush();
  Read();
}

bool H2Connection::InitSession() {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) {
    return false;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeadersCallback);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeaderCallback);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnDataChunkCallback);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrameRecvCallback);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamCloseCallback);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, OnInvalidFrameCallback);
  const int rv = nghttp2_session_server_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) {
    session_ = nullptr;
    return false;
  }
  advertised_max_streams_ = state_.faults()->max_concurrent_streams;
  std::vector<nghttp2_settings_entry> settings;
  if (advertised_max_streams_ > 0) {
    nghttp2_settings_entry entry;
    entry.settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    entry.value = advertised_max_streams_;
    settings.push_back(entry);
  }
  return nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) ==
         0;
}

void H2Connection::Read() {
  tls_.async_read_some(
      asio::buffer(read_buf_),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->OnRead(ec, n); });
}

void H2Connection::OnRead(const asio::error_code& ec, size_t n) {
  if (closed_) {
    return;
  }
  if (ec) {
    Close();
    return;
  }
  if (draining_for_drop_) {
    Read();  // discard: closing with unread bytes would turn into a reset that eats our answers
    return;
  }
  if (!finishing_) {
    const ssize_t rv = nghttp2_session_mem_recv(session_, read_buf_.data(), n);
    // A scripted drop stops here. Unless it is a clean drop, whatever nghttp2 queued is never
    // sent.
    if (dropping_ && flush_before_drop_) {
      draining_for_drop_ = true;
      if (writing_) {
        close_when_written_ = true;  // the write completion flushes what is left, then closes
      } else {
        FlushThenClose();
      }
      Read();
      return;
    }
    if (rv < 0 || dropping_) {
      Close();
      return;
    }
    Flush();
  }
  // While finishing, reading on drains the peer's last bytes so that closing does not turn into
  // a TCP reset that could destroy our final responses in flight.
  if (!closed_) {
    Read();
  }
}

void H2Connection::Flush() {
  if (writing_ || closed_ || finishing_ || session_ == nullptr) {
    return;
  }
  write_buf_.clear();
  while (write_buf_.size() < kMaxWriteSize) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      Close();
      return;
    }
    if (n == 0) {
      break;
    }
    write_buf_.insert(write_buf_.end(), data, data + n);
  }
  if (!write_buf_.empty()) {
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
                        if (self->close_when_written_) {
                          self->FlushThenClose();
                          return;
                        }
                        self->Flush();
                      });
    return;
  }
  if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
    FinishGracefully();
  }
}

void H2Connection::FlushThenClose() {
  // Writes everything nghttp2 has queued (answers to processed requests), then closes without
  // a GOAWAY.
  close_when_written_ = false;
  std::vector<uint8_t> out;
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) {
      break;
    }
    out.insert(out.end(), data, data + n);
  }
  if (out.empty()) {
    FinishGracefully();
    return;
  }
  write_buf_ = std::move(out);
  writing_ = true;
  asio::async_write(tls_, asio::buffer(write_buf_),
                    [self = shared_from_this()](const asio::error_code& ec, size_t /*n*/) {
                      self->writing_ = false;
                      if (ec || self->closed_) {
                        self->Close();
                        return;
                      }
                      // FIN after the answers; no GOAWAY, so the client sees a lost connection.
                      self->FinishGracefully();
                    });
}

void H2Connection::FinishGracefully() {
  // nghttp2 is done (after our or the peer's GOAWAY, all streams closed). Half-close and let
  // the peer close; the deadline bounds a peer that never does.
  finishing_ = true;
  asio::error_code ignored;
  tls_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  deadline_.expires_after(kFinishTimeout);
  deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) {
      self->Close();
    }
  });
}

void H2Connection::Close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  deadline_.cancel();
  for (auto& [id, stream] : streams_) {
    if (stream->delay) {
      stream->delay->cancel();
    }
  }
  // No TLS close_notify and no GOAWAY: this is also the abrupt close of a scripted drop.
  asio::error_code ignored;
  tls_.lowest_layer().close(ignored);
}

H2Connection::Stream* H2Connection::FindStream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int H2Connection::OnBeginHeaders(int32_t stream_id) {
  auto owned = std::make_unique<Stream>();
  Stream& stream = *owned;
  stream.id = stream_id;
  streams_[stream_id] = std::move(owned);
  state_.ObserveOpenStreams(streams_.size());
  // A stream that arrived in the same read as the one that triggered our GOAWAY: nghttp2 only
  // ignores new streams once the GOAWAY is actually sent, so refuse it here.
  if (goaway_last_stream_id_ && stream_id > *goaway_last_stream_id_) {
    stream.ignored = true;
    (void)nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  if (state_.OnNewStream()) {
    stream.ignored = true;
    (void)nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  ++accepted_streams_;
  const int goaway_after = state_.faults()->goaway_every_n_streams;
  if (goaway_after > 0 && !goaway_last_stream_id_ && accepted_streams_ >= goaway_after) {
    goaway_last_stream_id_ = stream_id;
    state_.OnGoawaySent();
    (void)nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_NO_ERROR, nullptr,
                                0);
  }
  return 0;
}

int H2Connection::OnHeader(int32_t stream_id, std::string_view name, std::string_view value) {
  Stream* stream = FindStream(stream_id);
  if (stream == nullptr || stream->ignored) {
    return 0;
  }
  PushRequest& request = stream->request;
  if (name == ":method") {
    request.method = std::string(value);
  } else if (name == ":path") {
    request.path = std::string(value);
  } else if (!name.starts_with(":") && request.headers.size() < kMaxHeaderFields) {
    request.headers.emplace_back(std::string(name), std::string(value));
  }
  return 0;
}

int H2Connection::OnDataChunk(int32_t stream_id, std::span<const uint8_t> data) {
  Stream* stream = FindStream(stream_id);
  if (stream == nullptr || stream->ignored) {
    return 0;
  }
  PushRequest& request = stream->request;
  if (request.body.size() + data.size() > kMaxRequestBody) {
    request.body_too_large = true;
  } else {
    request.body.insert(request.body.end(), data.begin(), data.end());
  }
  return 0;
}

int H2Connection::OnFrameReceived(const nghttp2_frame& frame) {
  if (frame.hd.type == NGHTTP2_SETTINGS && (frame.hd.flags & NGHTTP2_FLAG_ACK) != 0) {
    settings_acked_ = true;
    return 0;
  }
  if ((frame.hd.type != NGHTTP2_HEADERS && frame.hd.type != NGHTTP2_DATA) ||
      (frame.hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
    return 0;
  }
  Stream* stream = FindStream(frame.hd.stream_id);
  if (stream == nullptr || stream->ignored) {
    return 0;
  }
  return OnRequestComplete(*stream);
}

int H2Connection::OnRequestComplete(Stream& stream) {
  ++requests_;
  RequestSource source;
  source.connection_id = id_;
  source.number_on_connection = requests_;
  RequestOutcome outcome = state_.HandleRequest(stream.request, source);
  switch (outcome.action) {
    case RequestOutcome::Action::kAnswer:
      break;
    case RequestOutcome::Action::kDropClean:
      // This request is not processed, but the answers to the requests before it are written
      // before the connection is cut.
      flush_before_drop_ = true;
      dropping_ = true;
      // Makes nghttp2_session_mem_recv return at once, so no later frame of this read is handled.
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    case RequestOutcome::Action::kDropAfterRecord:
      // The outcome-unknown drop: this request is recorded, and its answer (with any other
      // answer still queued) never leaves.
      dropping_ = true;
      return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  stream.delivery = std::move(outcome.decision.delivery);
  if (outcome.delay.count() > 0) {
    stream.delay = std::make_unique<asio::steady_timer>(tls_.get_executor());
    stream.delay->expires_after(outcome.delay);
    stream.delay->async_wait(
        [self = shared_from_this(), id = stream.id,
         response = std::move(outcome.decision.response)](const asio::error_code& ec) mutable {
          // Once the session has ended (a connection error, say) nothing could be sent:
          // answer nothing and so record nothing.
          if (ec || self->closed_ || self->finishing_) {
            return;
          }
          if (Stream* s = self->FindStream(id)) {
            self->Answer(*s, std::move(response));
            self->Flush();
          }
        });
    return 0;
  }
  Answer(stream, std::move(outcome.decision.response));
  return 0;
}

void H2Connection::Answer(Stream& stream, PushResponse response) {
  const std::string status_name = ":status";
  const std::string status = std::to_string(response.status);
  const std::string length_name = "content-length";
  const std::string length = std::to_string(response.body.size());
  std::vector<nghttp2_nv> nva;
  nva.push_back(MakeNv(status_name, status));
  for (const auto& [name, value] : response.headers) {
    nva.push_back(MakeNv(name, value));
  }
  nva.push_back(MakeNv(length_name, length));
  stream.response_body = std::move(response.body);
  stream.response_offset = 0;
  nghttp2_data_provider provider;
  provider.source.ptr = nullptr;
  provider.read_callback = ReadBodyCallback;
  const int rv = nghttp2_submit_response(session_, stream.id, nva.data(), nva.size(),
                                         stream.response_body.empty() ? nullptr : &provider);
  if (rv != 0) {
    return;  // the stream is gone (reset by the peer): nothing answered, nothing recorded
  }
  std::optional<Delivery> delivery = std::move(stream.delivery);
  stream.delivery.reset();
  state_.OnAnswered(response.status, std::move(delivery));
}

ssize_t H2Connection::ReadResponseBody(int32_t stream_id, std::span<uint8_t> out,
                                       uint32_t& data_flags) {
  Stream* stream = FindStream(stream_id);
  if (stream == nullptr) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  const size_t n = std::min(out.size(), stream->response_body.size() - stream->response_offset);
  std::memcpy(out.data(), stream->response_body.data() + stream->response_offset, n);
  stream->response_offset += n;
  if (stream->response_offset == stream->response_body.size()) {
    data_flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return static_cast<ssize_t>(n);
}

int H2Connection::OnStreamClosed(int32_t stream_id) {
  // Destroying a pending delay timer cancels it; its handler finds no stream and records nothing.
  streams_.erase(stream_id);
  return 0;
}

int H2Connection::OnInvalidFrame(const nghttp2_frame& frame, int lib_error_code) {
  // nghttp2 rejects a request HEADERS beyond our SETTINGS_MAX_CONCURRENT_STREAMS itself, without
  // on_begin_headers: with REFUSED_STREAM while our SETTINGS are unacknowledged (the client
  // cannot know the limit yet), with a connection error after the client acknowledged them.
  const bool over_limit = advertised_max_streams_ > 0 && streams_.size() >= advertised_max_streams_;
  if (frame.hd.type != NGHTTP2_HEADERS || !over_limit ||
      (lib_error_code != NGHTTP2_ERR_REFUSED_STREAM && lib_error_code != NGHTTP2_ERR_PROTO)) {
    return 0;
  }
  if (settings_acked_) {
    state_.ObserveOpenStreams(streams_.size() + 1);
    state_.OnConcurrencyViolation();
  } else {
    state_.OnRefusedBeforeSettingsAck();
  }
  return 0;
}

}  // namespace webpush::testing::internal
