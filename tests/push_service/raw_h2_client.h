#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

struct nghttp2_hd_deflater;

// RawH2Client writes HTTP/2 frames by hand over TLS, so a test can break rules a real client
// library enforces (for example open more streams than the server's
// SETTINGS_MAX_CONCURRENT_STREAMS). Blocking I/O with socket timeouts; test use only.
namespace webpush::testing {

class RawH2Client {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  RawH2Client() = default;
  ~RawH2Client();
  RawH2Client(const RawH2Client&) = delete;
  RawH2Client& operator=(const RawH2Client&) = delete;

  // Connect opens TLS to 127.0.0.1:`port` with ALPN h2 (no certificate check), sends the client
  // preface with an empty SETTINGS frame, and waits (bounded) for the server's SETTINGS.
  [[nodiscard]] bool Connect(uint16_t port);
  // SendSettingsAck acknowledges the server's SETTINGS.
  [[nodiscard]] bool SendSettingsAck();
  // SendRequest sends one HEADERS frame (END_HEADERS | END_STREAM) on `stream_id`.
  [[nodiscard]] bool SendRequest(int32_t stream_id, const Headers& headers);

 private:
  [[nodiscard]] bool Write(const std::vector<uint8_t>& bytes);

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  nghttp2_hd_deflater* deflater_ = nullptr;
};

}  // namespace webpush::testing
