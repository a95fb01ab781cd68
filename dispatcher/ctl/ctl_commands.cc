#include "dispatcher/ctl/ctl_commands.h"

#include <openssl/crypto.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crypto/base64url.h"
#include "crypto/ece.h"
#include "crypto/keys.h"
#include "crypto/vapid.h"
#include "dispatcher/ctl/ctl_io.h"

namespace webpush::dispatcher::ctl {
namespace {

absl::Status WriteOutput(std::string_view data, const std::optional<std::string>& path,
                         std::ostream& out) {
  if (!path || *path == "-") {
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.flush();
    return out ? absl::OkStatus() : absl::DataLossError("stdout: write error");
  }
  std::ofstream file(*path, std::ios::binary | std::ios::trunc);
  file.write(data.data(), static_cast<std::streamsize>(data.size()));
  file.close();
  return file ? absl::OkStatus() : absl::DataLossError("--out: cannot write " + *path);
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// WithFlagNames names the flag the user typed rather than the JWT claim in a signing error.
absl::Status WithFlagNames(const absl::Status& status) {
  const std::string message(status.message());
  if (message.starts_with("sub:")) {
    return absl::InvalidArgumentError("--sub" + message.substr(3));
  }
  if (message.starts_with("exp:")) {
    return absl::InvalidArgumentError("--exp-seconds" + message.substr(3));
  }
  return status;
}

}  // namespace

absl::Status VapidKeygen(const KeygenOptions& options, std::ostream& out) {
  absl::StatusOr<crypto::P256KeyPair> key = crypto::P256KeyPair::Generate();
  if (!key.ok()) {
    return key.status();
  }
  std::string private_text;
  if (options.pem) {
    absl::StatusOr<std::string> pem = key->ToPem();
    if (!pem.ok()) {
      return pem.status();
    }
    private_text = std::move(*pem);
  } else {
    private_text = key->PrivateKeyBase64Url();
  }
  if (options.json) {
    std::string escaped;
    for (const char c : private_text) {
      if (c == '\n') {
        escaped += "\\n";
      } else {
        escaped.push_back(c);
      }
    }
    out << R"({"public_key":")" << key->PublicKeyBase64Url() << R"(","private_key":")" << escaped
        << "\"}\n";
  } else if (options.pem) {
    // PEM readers skip text before the BEGIN line, so the whole output can be saved as a key file.
    out << "public_key: " << key->PublicKeyBase64Url() << "\n" << private_text;
  } else {
    out << "public_key: " << key->PublicKeyBase64Url() << "\n"
        << "private_key: " << private_text << "\n";
  }
  OPENSSL_cleanse(private_text.data(), private_text.size());
  return out ? absl::OkStatus() : absl::DataLossError("stdout: write error");
}

absl::Status SubscriptionKeygen(std::ostream& out) {
  absl::StatusOr<crypto::P256KeyPair> key = crypto::P256KeyPair::Generate();
  absl::StatusOr<crypto::AuthSecret> auth = crypto::GenerateAuthSecret();
  if (!key.ok()) {
    return key.status();
  }
  if (!auth.ok()) {
    return auth.status();
  }
  out << R"({"keys":{"p256dh":")" << key->PublicKeyBase64Url() << R"(","auth":")"
      << crypto::Base64UrlEncode(*auth) << R"("},"private_key":")" << key->PrivateKeyBase64Url()
      << "\"}\n";
  return out ? absl::OkStatus() : absl::DataLossError("stdout: write error");
}

absl::Status Encrypt(const EncryptOptions& options, std::istream& in, std::ostream& out) {
  absl::StatusOr<crypto::SubscriptionKeys> keys =
      crypto::ParseSubscriptionKeys(options.p256dh, options.auth);
  if (!keys.ok()) {
    return keys.status();
  }
  absl::StatusOr<std::string> payload = LoadPayload(options.payload, options.payload_file, in);
  if (!payload.ok()) {
    return payload.status();
  }
  absl::StatusOr<std::vector<uint8_t>> body =
      crypto::Encrypt(*keys, Bytes(*payload), options.padding);
  if (!body.ok()) {
    return body.status();
  }
  return WriteOutput(std::string_view(reinterpret_cast<const char*>(body->data()), body->size()),
                     options.out_file, out);
}

absl::Status Decrypt(const DecryptOptions& options, std::istream& in, std::ostream& out) {
  absl::StatusOr<crypto::P256KeyPair> key = LoadKey(options.private_key, options.key_file);
  if (!key.ok()) {
    return key.status();
  }
  absl::StatusOr<crypto::AuthSecret> auth = crypto::ParseAuthSecret(options.auth, "--auth");
  if (!auth.ok()) {
    return auth.status();
  }
  absl::StatusOr<std::string> body = ReadFileOrStdin(options.in_file.value_or("-"), in, "--in");
  if (!body.ok()) {
    return body.status();
  }
  absl::StatusOr<std::vector<uint8_t>> plaintext = crypto::Decrypt(Bytes(*body), *key, *auth);
  if (!plaintext.ok()) {
    return plaintext.status();
  }
  return WriteOutput(
      std::string_view(reinterpret_cast<const char*>(plaintext->data()), plaintext->size()),
      std::nullopt, out);
}

absl::Status VapidToken(const TokenOptions& options, std::ostream& out) {
  absl::StatusOr<crypto::P256KeyPair> key = LoadKey(options.private_key, options.key_file);
  if (!key.ok()) {
    return key.status();
  }
  absl::StatusOr<std::string> audience = crypto::AudienceFromEndpoint(options.audience, "--aud");
  if (!audience.ok()) {
    return audience.status();
  }
  // Checked before any arithmetic, so a huge value cannot overflow the expiry computation.
  if (options.exp_seconds <= 0 ||
      options.exp_seconds > absl::ToInt64Seconds(crypto::kMaxVapidTokenLifetime)) {
    return absl::InvalidArgumentError(
        "--exp-seconds: must be from 1 to 86400 (RFC 8292 §2: at most 24 hours)");
  }
  if (options.count < 1 || options.count > kMaxTokenCount) {
    return absl::InvalidArgumentError(absl::StrCat("--count: must be from 1 to ", kMaxTokenCount));
  }
  const absl::Time now = absl::Now();
  const absl::Time expiry = absl::FromUnixSeconds(absl::ToUnixSeconds(now) + options.exp_seconds);
  std::string lines;
  for (int64_t i = 0; i < options.count; ++i) {
    absl::StatusOr<std::string> jwt =
        crypto::SignVapidToken(*key, {*audience, expiry, options.subject}, now);
    if (!jwt.ok()) {
      return WithFlagNames(jwt.status());
    }
    // Collected first, so that an error prints no partial output.
    absl::StrAppend(&lines, crypto::VapidAuthorizationValue(*jwt, key->public_key()), "\n");
  }
  out << lines;
  return out ? absl::OkStatus() : absl::DataLossError("stdout: write error");
}

}  // namespace webpush::dispatcher::ctl
