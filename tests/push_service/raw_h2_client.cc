#include "tests/push_service/raw_h2_client.h"

#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string_view>

namespace webpush::testing {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint8_t kTypeHeaders = 0x1;
constexpr uint8_t kTypeSettings = 0x4;
constexpr uint8_t kFlagAck = 0x1;
constexpr uint8_t kFlagEndStream = 0x1;
constexpr uint8_t kFlagEndHeaders = 0x4;
constexpr size_t kFrameHeaderSize = 9;
// Frames read while waiting for the server's SETTINGS; it is the first frame the server sends.
constexpr int kMaxFramesBeforeSettings = 16;

// AppendFrameHeader writes the 9-byte frame header of RFC 9113 §4.1.
void AppendFrameHeader(std::vector<uint8_t>& out, size_t length, uint8_t type, uint8_t flags,
                       int32_t stream_id) {
  out.push_back(static_cast<uint8_t>(length >> 16));
  out.push_back(static_cast<uint8_t>(length >> 8));
  out.push_back(static_cast<uint8_t>(length));
  out.push_back(type);
  out.push_back(flags);
  const auto id = static_cast<uint32_t>(stream_id) & 0x7fffffffU;
  out.push_back(static_cast<uint8_t>(id >> 24));
  out.push_back(static_cast<uint8_t>(id >> 16));
  out.push_back(static_cast<uint8_t>(id >> 8));
  out.push_back(static_cast<uint8_t>(id));
}

}  // namespace

RawH2Client::~RawH2Client() {
  if (deflater_ != nullptr) {
    nghttp2_hd_deflate_del(deflater_);
  }
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
  }
  if (fd_ >= 0) {
    close(fd_);
  }
  if (ctx_ != nullptr) {
    SSL_CTX_free(ctx_);
  }
}

bool RawH2Client::Connect(uint16_t port) {
  if (nghttp2_hd_deflate_new(&deflater_, 4096) != 0) {
    return false;
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  static constexpr unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx_, kAlpn, sizeof(kAlpn));
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return false;
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  if (SSL_connect(ssl_) != 1) {
    ERR_clear_error();
    return false;
  }
  std::vector<uint8_t> out(kPreface.begin(), kPreface.end());
  AppendFrameHeader(out, 0, kTypeSettings, 0, 0);
  if (!Write(out)) {
    return false;
  }
  for (int i = 0; i < kMaxFramesBeforeSettings; ++i) {
    std::array<uint8_t, kFrameHeaderSize> header{};
    if (SSL_read(ssl_, header.data(), static_cast<int>(header.size())) !=
        static_cast<int>(header.size())) {
      ERR_clear_error();
      return false;
    }
    const size_t length = (size_t{header[0]} << 16) | (size_t{header[1]} << 8) | header[2];
    std::vector<uint8_t> payload(length);
    size_t got = 0;
    while (got < length) {
      const int n = SSL_read(ssl_, payload.data() + got, static_cast<int>(length - got));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      got += static_cast<size_t>(n);
    }
    if (header[3] == kTypeSettings && (header[4] & kFlagAck) == 0) {
      return true;
    }
  }
  return false;
}

bool RawH2Client::SendSettingsAck() {
  std::vector<uint8_t> out;
  AppendFrameHeader(out, 0, kTypeSettings, kFlagAck, 0);
  return Write(out);
}

bool RawH2Client::SendRequest(int32_t stream_id, const Headers& headers) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [name, value] : headers) {
    nghttp2_nv nv;
    nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(name.data()));
    nv.namelen = name.size();
    nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(value.data()));
    nv.valuelen = value.size();
    nv.flags = NGHTTP2_NV_FLAG_NONE;
    nva.push_back(nv);
  }
  std::vector<uint8_t> block(nghttp2_hd_deflate_bound(deflater_, nva.data(), nva.size()));
  const ssize_t n =
      nghttp2_hd_deflate_hd(deflater_, block.data(), block.size(), nva.data(), nva.size());
  if (n < 0) {
    return false;
  }
  std::vector<uint8_t> out;
  AppendFrameHeader(out, static_cast<size_t>(n), kTypeHeaders, kFlagEndHeaders | kFlagEndStream,
                    stream_id);
  out.insert(out.end(), block.begin(), block.begin() + n);
  return Write(out);
}

bool RawH2Client::Write(const std::vector<uint8_t>& bytes) {
  if (SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) !=
      static_cast<int>(bytes.size())) {
    ERR_clear_error();
    return false;
  }
  return true;
}

}  // namespace webpush::testing
