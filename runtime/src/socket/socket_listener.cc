// Binding tcp:// endpoints, accepting clients, and the server's socket handshake.
#include "socket/socket_listener.h"

#include <sys/socket.h>

#include <algorithm>

#include <boost/asio/ip/address.hpp>
#include <boost/system/system_error.hpp>

#include "call/call_frame.h"
#include "os/deadline.h"
#include "call/handshake.h"
#include "call/frame_message_link.h"
#include "call/link_server_connection.h"
#include "socket/socket_link.h"

namespace ferry::internal {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// What one connection keeps idle for reuse at most (the server's budget bounds the sum).
constexpr size_t kIdleBytesPerConnection = 64 * 1024 * 1024;

std::string TcpEndpointText(const tcp::endpoint& bound) {
  const asio::ip::address address = bound.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return "tcp://" + host + ":" + std::to_string(bound.port());
}

// The server's half of the socket handshake: Hello in, SocketWelcome (or Refusal) out.
Result<std::shared_ptr<MessageLink>> OpenSocketLink(int socket, const ConnectionEnv& env) {
  const Deadline deadline = DeadlineAfter(env.options->handshake_timeout);
  Result<HelloInfo> hello = ReceiveHello(socket, deadline);
  if (!hello.ok()) return hello.status();
  // A request frame must fit the server's memory budget whole: the limit clients are told
  // is the smaller of the two.
  uint64_t max_message_bytes = env.options->max_message_bytes;
  if (env.budget != nullptr && env.budget->bounded()) {
    const uint64_t limit = env.budget->large_limit();
    max_message_bytes = std::min(max_message_bytes, limit - std::min(limit, kMaxFrameOverhead));
  }
  SocketWelcomeInfo welcome;
  welcome.max_message_bytes = max_message_bytes;
  if (!env.upgrade_path.empty() && hello->accept_shm && !hello->host_id.empty() &&
      hello->host_id == HostId()) {
    welcome.shm_path = env.upgrade_path;
  }
  if (Status s = SendSocketWelcome(socket, welcome); !s.ok()) return s;
  // The link gets its own descriptor: the connection keeps the accepted one to interrupt a
  // handshake, and closes it when done.
  Fd own(fcntl(socket, F_DUPFD_CLOEXEC, 0));
  if (!own.valid()) return Status::ResourceExhausted(std::string("dup: ") + std::strerror(errno));
  SocketLinkOptions options;
  options.max_frame_bytes = max_message_bytes + kMaxFrameOverhead;
  options.pool = BufferPool::Create(kIdleBytesPerConnection, env.budget);
  options.frame_timeout = env.options->frame_timeout;
  options.min_frame_bytes_per_second = env.options->min_frame_bytes_per_second;
  options.finish_frames_inline = true;
  Result<std::unique_ptr<SocketLink>> link = SocketLink::Adopt(std::move(own), std::move(options));
  if (!link.ok()) return link.status();
  return std::shared_ptr<MessageLink>(
      FrameMessageLink::Create(std::move(*link), env.options->max_message_bytes));
}

}  // namespace

std::shared_ptr<ServerConnection> NewSocketConnection(Fd client, ConnectionEnv env) {
  return std::make_shared<LinkServerConnection>(std::move(client), &OpenSocketLink,
                                                std::move(env));
}

Result<std::unique_ptr<Listener>> TcpListener::Listen(const Endpoint& endpoint) {
  std::unique_ptr<TcpListener> listener(new TcpListener());
  try {
    tcp::resolver resolver(listener->io_);
    const auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service);
    if (results.empty()) return Status::Unavailable("cannot resolve " + endpoint.host);
    const tcp::endpoint wanted = results.begin()->endpoint();
    tcp::acceptor& acceptor = listener->acceptor_;
    acceptor.open(wanted.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    boost::system::error_code error;
    acceptor.bind(wanted, error);
    if (error == asio::error::address_in_use) {
      return Status::AlreadyExists("tcp port " + std::to_string(endpoint.port) + " on " +
                                   endpoint.host + " is taken");
    }
    if (error) return Status::Unavailable("bind " + endpoint.text + ": " + error.message());
    acceptor.listen(asio::socket_base::max_listen_connections);
    acceptor.non_blocking(true);
    listener->endpoint_ = TcpEndpointText(acceptor.local_endpoint());
  } catch (const boost::system::system_error& e) {
    return Status::Unavailable("listen " + endpoint.text + ": " + e.what());
  }
  return std::unique_ptr<Listener>(std::move(listener));
}

int TcpListener::fd() const {
  return const_cast<tcp::acceptor&>(acceptor_).native_handle();
}

Fd TcpListener::Accept() { return Fd(accept4(fd(), nullptr, nullptr, SOCK_CLOEXEC)); }

}  // namespace ferry::internal
