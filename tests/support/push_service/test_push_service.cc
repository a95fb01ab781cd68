#include "tests/support/push_service/test_push_service.h"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>
#include <utility>

#include "crypto/keys.h"
#include "crypto/vapid.h"
#include "tests/support/push_service/internal/service_state.h"
#include "tests/support/push_service/internal/tls_certificates.h"
#include "tests/support/push_service/internal/tls_handshake.h"

namespace webpush::testing {
namespace {

constexpr int kMaxThreads = 16;

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string ToString(absl::string_view s) { return std::string(s.data(), s.size()); }

}  // namespace

std::string TestSubscription::ToJson() const {
  return "{\"endpoint\":" + JsonQuote(endpoint) + ",\"keys\":{\"p256dh\":" + JsonQuote(p256dh) +
         ",\"auth\":" + JsonQuote(auth) + "}}";
}

// Impl owns the loop and everything the connections borrow. Members are destroyed in reverse
// order of declaration, after the destructor has stopped the loop and joined its threads, so
// `state_` and `tls_` outlive every connection.
class TestPushService::Impl {
 public:
  ~Impl() {
    if (io_) {
      io_->stop();
    }
    for (std::thread& t : threads_) {
      t.join();
    }
    acceptor_.reset();
    io_.reset();  // destroys pending handlers and with them the remaining connections
    if (!temp_dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(temp_dir_, ignored);
    }
  }

  absl::Status Init(TestPushService::Options options);
  void Accept();

  TestPushService::Options options_;
  uint16_t port_ = 0;
  std::string origin_;
  std::string temp_dir_;
  std::string ca_file_;
  std::unique_ptr<internal::ServiceState> state_;
  std::unique_ptr<asio::ssl::context> tls_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
};

absl::Status TestPushService::Impl::Init(TestPushService::Options options) {
  options_ = std::move(options);
  if (options_.threads < 1 || options_.threads > kMaxThreads) {
    return absl::InvalidArgumentError("threads: must be from 1 to 16");
  }
  if (options_.decrypt_every_n < 1) {
    return absl::InvalidArgumentError("decrypt_every_n: must be at least 1");
  }
  if (!options_.expected_vapid_public_key.empty()) {
    absl::StatusOr<crypto::P256PublicKey> key =
        crypto::ParseP256PublicKey(options_.expected_vapid_public_key, "expected_vapid_public_key");
    if (!key.ok()) {
      return key.status();
    }
  }
  absl::StatusOr<internal::ServerCredentials> credentials =
      internal::GenerateServerCredentials(options_.host_name);
  if (!credentials.ok()) {
    return credentials.status();
  }
  tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  if (absl::Status s = internal::ConfigureServerContext(tls_->native_handle(), *credentials);
      !s.ok()) {
    return s;
  }

  io_ = std::make_unique<asio::io_context>(options_.threads);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(*io_);
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), options_.port);
  asio::error_code ec;
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor_->bind(endpoint, ec);
  }
  if (!ec) {
    acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return absl::UnavailableError(
        "port: cannot listen on 127.0.0.1:" + std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
  const std::string authority = options_.host_name + ":" + std::to_string(port_);
  absl::StatusOr<std::string> origin =
      crypto::AudienceFromEndpoint("https://" + authority, "host_name");
  if (!origin.ok()) {
    return origin.status();
  }
  origin_ = std::move(*origin);

  std::string dir =
      (std::filesystem::temp_directory_path() / "webpush-push-service-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError("ca_file: cannot create a temporary directory");
  }
  temp_dir_ = dir;
  ca_file_ = temp_dir_ + "/ca.pem";
  std::ofstream out(ca_file_);
  out << credentials->ca_pem;
  out.close();
  if (!out) {
    return absl::InternalError("ca_file: cannot write " + ca_file_);
  }

  state_ = std::make_unique<internal::ServiceState>(
      origin_, "https://" + authority + "/push/", options_.expected_vapid_public_key,
      options_.faults, options_.record_deliveries, options_.decrypt_every_n);
  Accept();
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([io = io_.get()] { io->run(); });
  }
  return absl::OkStatus();
}

void TestPushService::Impl::Accept() {
  // Each connection gets its own strand, so with several threads its handlers still never run
  // concurrently.
  acceptor_->async_accept(asio::make_strand(*io_),
                          [this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
                            if (ec == asio::error::operation_aborted || !acceptor_->is_open()) {
                              return;
                            }
                            if (!ec) {
                              asio::error_code ignored;
                              socket.set_option(asio::ip::tcp::no_delay(true), ignored);
                              internal::ServeTlsConnection(std::move(socket), *tls_, *state_);
                            }
                            Accept();
                          });
}

absl::StatusOr<std::unique_ptr<TestPushService>> TestPushService::Start(Options options) {
  auto impl = std::make_unique<Impl>();
  if (absl::Status s = impl->Init(std::move(options)); !s.ok()) {
    return s;
  }
  return std::unique_ptr<TestPushService>(new TestPushService(std::move(impl)));
}

TestPushService::TestPushService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TestPushService::~TestPushService() = default;

uint16_t TestPushService::port() const { return impl_->port_; }

const std::string& TestPushService::host_name() const { return impl_->options_.host_name; }

const std::string& TestPushService::ca_file() const { return impl_->ca_file_; }

std::string TestPushService::origin() const { return impl_->origin_; }

TestSubscription TestPushService::AddSubscription() {
  absl::StatusOr<TestSubscription> subscription = impl_->state_->AddSubscription();
  if (!subscription.ok()) {
    // Only a CSPRNG failure gets here; a test cannot go on without its subscription.
    std::fprintf(stderr, "TestPushService::AddSubscription: %s\n",
                 ToString(subscription.status().message()).c_str());
    std::abort();
  }
  return *std::move(subscription);
}

void TestPushService::SetFaults(const FaultPlan& faults) { impl_->state_->SetFaults(faults); }

std::vector<Delivery> TestPushService::Deliveries() const { return impl_->state_->Deliveries(); }

void TestPushService::ClearDeliveries() { impl_->state_->ClearDeliveries(); }

Stats TestPushService::stats() const { return impl_->state_->stats(); }

void TestPushService::ResetStats() { impl_->state_->ResetStats(); }

}  // namespace webpush::testing
