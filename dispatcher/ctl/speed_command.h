#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>

#include "absl/status/status.h"

// `webpushctl speed`: in the spirit of `openssl speed`, measures on this machine how many Web Push
// messages per second the crypto paths encrypt, and how many P-256 key generations and ECDH
// operations they run, so that an operator can size a deployment on their own hardware.
namespace webpush::dispatcher::ctl {

struct SpeedOptions {
  double seconds = 1.0;        // per test and path (three tests per path)
  size_t payload_size = 1024;  // plaintext bytes per message, 0 to 3993
  size_t batch = 64;           // messages per batch call (the reference path goes one by one)
  int threads = 1;             // threads running each test at the same time
  // `reference` (the single-message reference path), `batch` (the batch kernel: IFMA, or its
  // emulation on CPUs without IFMA), or `auto` (both: the reference path, then the batch
  // encryptor on the path production would pick, WEBPUSH_CRYPTO_PATH included).
  std::string path = "auto";
};

// Speed runs the measurements and prints one table row per (path, test) to `out`: operations per
// second per thread ("per core" when threads do not outnumber cores) and in total, the P-256
// implementation that ran, then the batch/reference ratios. InvalidArgument naming the flag for
// bad options; Internal when encryption fails.
[[nodiscard]] absl::Status Speed(const SpeedOptions& options, std::ostream& out);

}  // namespace webpush::dispatcher::ctl
