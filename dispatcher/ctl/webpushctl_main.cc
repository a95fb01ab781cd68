// webpushctl: the command-line tool of webpush-dispatcher. This file only declares flags and
// calls the commands in ctl_commands.cc.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "dispatcher/ctl/ctl_commands.h"
#include "dispatcher/ctl/ctl_io.h"
#include "dispatcher/ctl/job_commands.h"
#include "dispatcher/ctl/push_command.h"
#include "dispatcher/ctl/speed_command.h"

namespace {

namespace ctl = webpush::dispatcher::ctl;

int Report(const absl::Status& status) {
  if (status.ok()) {
    return 0;
  }
  std::cerr << "webpushctl: " << status.message() << "\n";
  return ctl::IsUsageError(status) ? 2 : 1;
}

// AddConnectionFlags declares the flags of every command that talks to webpushd.
void AddConnectionFlags(CLI::App* cmd, ctl::ConnectionOptions& connection) {
  cmd->add_option("--server", connection.server, "webpushd's gRPC address, HOST:PORT")->required();
  cmd->add_option("--token-file", connection.token_file,
                  "File with the tenant's bearer token (default: $WEBPUSH_TOKEN)");
  cmd->add_flag("--tls", connection.tls, "Use TLS (default: plaintext)");
  cmd->add_option("--ca-file", connection.ca_file,
                  "PEM CA bundle for --tls instead of the system's");
  cmd->add_option("--timeout", connection.timeout_seconds, "Seconds per call (not for watching)")
      ->capture_default_str();
}

// Run declares the commands, parses `argv` and runs the chosen command.
int Run(int argc, char** argv) {
  CLI::App app{
      "webpushctl: keys, VAPID tokens, aes128gcm encryption, direct pushes and webpushd jobs"};
  app.require_subcommand(1);

  // vapid keygen | vapid token
  CLI::App* vapid = app.add_subcommand("vapid", "VAPID application server keys and tokens");
  vapid->require_subcommand(1);
  ctl::KeygenOptions keygen;
  CLI::App* keygen_cmd = vapid->add_subcommand("keygen", "Print a new VAPID key pair");
  keygen_cmd->add_flag("--pem", keygen.pem, "Print the private key as PKCS #8 PEM");
  keygen_cmd->add_flag("--json", keygen.json, "Print a JSON object");

  ctl::TokenOptions token;
  CLI::App* token_cmd =
      vapid->add_subcommand("token", "Print an Authorization header value: vapid t=..., k=...");
  auto* token_key =
      token_cmd->add_option("--private-key", token.private_key, "VAPID private key, base64url");
  token_cmd
      ->add_option("--key-file", token.key_file, "File with the private key (base64url or PEM)")
      ->excludes(token_key);
  token_cmd->add_option("--aud", token.audience, "Push service origin (or an endpoint URL)")
      ->required();
  token_cmd->add_option("--sub", token.subject, "Contact: mailto:you@example.com or https://...")
      ->required();
  token_cmd
      ->add_option("--exp-seconds", token.exp_seconds, "Token lifetime in seconds (at most 86400)")
      ->capture_default_str();
  token_cmd
      ->add_option("--count", token.count,
                   "Print this many tokens, one per line, each with its own signature")
      ->capture_default_str();

  // keys subscription
  CLI::App* keys = app.add_subcommand("keys", "Browser-side keys for tests and demos");
  keys->require_subcommand(1);
  CLI::App* sub_cmd = keys->add_subcommand(
      "subscription", "Print a new p256dh/auth pair and its private key, as JSON");

  // encrypt
  ctl::EncryptOptions enc;
  CLI::App* enc_cmd =
      app.add_subcommand("encrypt", "Encrypt a payload for one subscription (RFC 8291 aes128gcm)");
  enc_cmd->add_option("--p256dh", enc.p256dh, "Subscription p256dh key, base64url")->required();
  enc_cmd->add_option("--auth", enc.auth, "Subscription auth secret, base64url")->required();
  auto* payload = enc_cmd->add_option("--payload", enc.payload, "Payload text");
  enc_cmd->add_option("--payload-file", enc.payload_file, "Payload file ('-' for stdin)")
      ->excludes(payload);
  enc_cmd->add_option("--out", enc.out_file, "Output file for the body (default stdout)");
  enc_cmd->add_option("--pad", enc.padding, "Zero bytes of padding inside the record")
      ->capture_default_str();

  // decrypt
  ctl::DecryptOptions dec;
  CLI::App* dec_cmd = app.add_subcommand("decrypt", "Decrypt an aes128gcm body and print it");
  auto* dec_key =
      dec_cmd->add_option("--private-key", dec.private_key, "User agent private key, base64url");
  dec_cmd->add_option("--key-file", dec.key_file, "File with the private key (base64url or PEM)")
      ->excludes(dec_key);
  dec_cmd->add_option("--auth", dec.auth, "Subscription auth secret, base64url")->required();
  dec_cmd->add_option("--in", dec.in_file, "Body file (default stdin)");

  // push
  ctl::PushOptions push;
  CLI::App* push_cmd = app.add_subcommand(
      "push",
      "Encrypt one payload and send it to many subscriptions over HTTP/2, without the queue");
  auto* push_one =
      push_cmd->add_option("--subscription", push.subscription, "One PushSubscription as JSON");
  push_cmd
      ->add_option("--subscriptions", push.subscriptions_file,
                   "File of PushSubscription JSON lines ('-' for stdin)")
      ->excludes(push_one);
  auto* push_payload = push_cmd->add_option("--payload", push.payload, "Payload text");
  push_cmd->add_option("--payload-file", push.payload_file, "Payload file ('-' for stdin)")
      ->excludes(push_payload);
  auto* push_key = push_cmd->add_option("--vapid-private-key", push.vapid_private_key,
                                        "VAPID private key, base64url");
  push_cmd
      ->add_option("--vapid-key-file", push.vapid_key_file,
                   "File with the VAPID private key (base64url or PEM)")
      ->excludes(push_key);
  push_cmd
      ->add_option("--sub", push.subject, "VAPID contact: mailto:you@example.com or https://...")
      ->required();
  push_cmd->add_option("--ttl", push.ttl, "TTL in seconds")->capture_default_str();
  push_cmd->add_option("--urgency", push.urgency, "very-low, low, normal or high");
  push_cmd->add_option("--topic", push.topic, "Topic (at most 32 base64url characters)");
  push_cmd->add_option("--ca-file", push.ca_file, "CA bundle (PEM) instead of the system's");
  push_cmd->add_option("--allow-host", push.allow_hosts,
                       "HOST[:PORT] or *.SUFFIX[:PORT] added to the push-service allowlist");
  push_cmd->add_option("--resolve", push.resolves,
                       "HOST:PORT:ADDRESS, like curl --resolve (may be private)");
  push_cmd->add_option("--concurrency", push.concurrency, "Messages in flight at once")
      ->capture_default_str();
  push_cmd->add_option("--connections", push.connections, "Connections per push service at most")
      ->capture_default_str();
  push_cmd->add_option("--max-attempts", push.max_attempts, "Attempts for 429, 5xx and timeouts")
      ->capture_default_str();
  push_cmd->add_option("--timeout", push.timeout_seconds, "Seconds per attempt")
      ->capture_default_str();
  push_cmd->add_option("--gone-out", push.gone_out, "Write gone subscriptions here (JSON lines)");

  // speed
  ctl::SpeedOptions speed;
  CLI::App* speed_cmd = app.add_subcommand(
      "speed", "Measure messages encrypted, P-256 keygen and ECDH per second on this machine");
  speed_cmd->add_option("--seconds", speed.seconds, "Seconds per test and path")
      ->capture_default_str();
  speed_cmd->add_option("--payload-size", speed.payload_size, "Payload bytes (0 to 3993)")
      ->capture_default_str();
  speed_cmd->add_option("--batch", speed.batch, "Messages per batch call")->capture_default_str();
  speed_cmd->add_option("--threads", speed.threads, "Threads (one per core)")
      ->capture_default_str();
  speed_cmd
      ->add_option("--path", speed.path,
                   "reference, batch, or auto (reference and the batch path production picks)")
      ->check(CLI::IsMember({"reference", "batch", "auto"}))
      ->capture_default_str();

  // send | status | watch | cancel
  ctl::SendOptions send;
  CLI::App* send_cmd =
      app.add_subcommand("send", "Submit one job to webpushd for a file of subscriptions");
  AddConnectionFlags(send_cmd, send.connection);
  send_cmd
      ->add_option("--subscriptions", send.subscriptions,
                   "File of PushSubscription JSON lines ('-' for stdin)")
      ->required();
  auto* send_payload = send_cmd->add_option("--payload", send.payload, "Payload text");
  send_cmd->add_option("--payload-file", send.payload_file, "Payload file ('-' for stdin)")
      ->excludes(send_payload);
  send_cmd->add_option("--ttl", send.ttl, "TTL in seconds")->capture_default_str();
  send_cmd->add_option("--urgency", send.urgency, "very-low, low, normal or high")
      ->check(CLI::IsMember({"very-low", "low", "normal", "high"}));
  send_cmd->add_option("--topic", send.topic, "Topic (at most 32 base64url characters)");
  send_cmd->add_option("--vapid-key-id", send.vapid_key_id,
                       "Which of the tenant's VAPID keys signs (default: its first)");
  send_cmd->add_option("--idempotency-key", send.idempotency_key,
                       "Key that makes a repeated submission return the first job");
  send_cmd->add_option("--label", send.labels, "KEY=VALUE label of the job (repeatable)");
  send_cmd->add_flag("--wait", send.wait, "Follow the job to its end and print a summary");
  send_cmd->add_option("--gone-out", send.gone_out,
                       "With --wait: write gone subscriptions here (JSON lines)");

  ctl::JobOptions status;
  CLI::App* status_cmd = app.add_subcommand("status", "Print a job's state and counters");
  AddConnectionFlags(status_cmd, status.connection);
  status_cmd->add_option("JOB_ID", status.job_id, "The job")->required();
  status_cmd->add_flag("--json", status.json, "Print a JSON object");

  ctl::WatchOptions watch;
  CLI::App* watch_cmd =
      app.add_subcommand("watch", "Print a job's events as they come, until it finishes");
  AddConnectionFlags(watch_cmd, watch.connection);
  watch_cmd->add_option("JOB_ID", watch.job_id, "The job")->required();
  watch_cmd->add_option("--after", watch.after_offset, "Start after this event offset");
  watch_cmd->add_option("--gone-out", watch.gone_out, "Write gone subscriptions here (JSON lines)");
  watch_cmd->add_flag("--json", watch.json, "Print events as JSON lines");

  ctl::JobOptions cancel;
  CLI::App* cancel_cmd = app.add_subcommand("cancel", "Cancel a job and print its final state");
  AddConnectionFlags(cancel_cmd, cancel.connection);
  cancel_cmd->add_option("JOB_ID", cancel.job_id, "The job")->required();
  cancel_cmd->add_flag("--json", cancel.json, "Print a JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors follow the same contract as every other error: one line on stderr. Exit
    // status 2 (as for most command-line tools) tells them apart from a failed operation (1).
    std::cerr << "webpushctl: " << e.what() << " (see --help)\n";
    return 2;
  }

  if (keygen_cmd->parsed()) {
    return Report(ctl::VapidKeygen(keygen, std::cout));
  }
  if (token_cmd->parsed()) {
    return Report(ctl::VapidToken(token, std::cout));
  }
  if (sub_cmd->parsed()) {
    return Report(ctl::SubscriptionKeygen(std::cout));
  }
  if (enc_cmd->parsed()) {
    return Report(ctl::Encrypt(enc, std::cin, std::cout));
  }
  if (dec_cmd->parsed()) {
    return Report(ctl::Decrypt(dec, std::cin, std::cout));
  }
  if (push_cmd->parsed()) {
    push.progress = isatty(STDERR_FILENO) == 1;
    return Report(ctl::Push(push, std::cin, std::cout, std::cerr));
  }
  // Read once, here, before any command starts a thread.
  std::optional<std::string> env_token;
  const char* value = std::getenv("WEBPUSH_TOKEN");  // NOLINT(concurrency-mt-unsafe)
  if (value != nullptr) {
    env_token = value;
  }
  if (send_cmd->parsed()) {
    send.connection.env_token = env_token;
    send.progress_terminal = isatty(STDERR_FILENO) == 1;
    return Report(ctl::SendJob(send, std::cin, std::cout, std::cerr));
  }
  if (status_cmd->parsed()) {
    status.connection.env_token = env_token;
    return Report(ctl::ShowJob(status, std::cout));
  }
  if (watch_cmd->parsed()) {
    watch.connection.env_token = env_token;
    return Report(ctl::WatchJob(watch, std::cout, std::cerr));
  }
  if (cancel_cmd->parsed()) {
    cancel.connection.env_token = env_token;
    return Report(ctl::CancelJob(cancel, std::cout));
  }
  if (speed_cmd->parsed()) {
    return Report(ctl::Speed(speed, std::cout));
  }
  return Report(absl::InvalidArgumentError("no command given; see --help"));
}

}  // namespace

int main(int argc, char** argv) {
  // CLI11 reports errors by exception; none may escape main (style.md §5).
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "webpushctl: " << e.what() << "\n";
    return 1;
  }
}
