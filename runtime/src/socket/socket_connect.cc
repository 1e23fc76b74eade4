// Connecting to a socket server, then either staying on the socket or taking its offer of
// shared memory.
#include "socket/socket_connect.h"

#include <fcntl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cerrno>
#include <cstring>

#include "call/call_frame.h"
#include "os/deadline.h"
#include "call/handshake.h"
#include "call/frame_message_link.h"
#include "socket/socket_link.h"

namespace ferry::internal {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

Result<Fd> ConnectTcp(const Endpoint& endpoint, Deadline deadline) {
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  boost::system::error_code outcome = asio::error::would_block;
  // An address needs no resolver (whose thread a slow DNS lookup would keep past the
  // deadline: the io_context joins it when destroyed).
  boost::system::error_code not_an_address;
  const asio::ip::address address = asio::ip::make_address(endpoint.host, not_an_address);
  if (!not_an_address) {
    socket.async_connect(tcp::endpoint(address, endpoint.port),
                         [&](const boost::system::error_code& connected) { outcome = connected; });
  } else {
    resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                         tcp::resolver::numeric_service,
                         [&](const boost::system::error_code& error,
                             const tcp::resolver::results_type& results) {
                           if (error) {
                             outcome = error;
                             return;
                           }
                           asio::async_connect(socket, results,
                                               [&](const boost::system::error_code& connected,
                                                   const tcp::endpoint&) { outcome = connected; });
                         });
  }
  io.run_until(deadline);
  if (outcome == asio::error::would_block) {
    return Status::DeadlineExceeded("connecting to " + endpoint.text + " timed out");
  }
  if (outcome) return Status::Unavailable("cannot connect to " + endpoint.text + ": " + outcome.message());
  Fd fd(fcntl(socket.native_handle(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) return Status::ResourceExhausted(std::string("dup: ") + std::strerror(errno));
  // The asynchronous connect left the (shared) file description non-blocking; the link's
  // synchronous reads and writes would then poll after every EAGAIN.
  const int flags = fcntl(fd.get(), F_GETFL);
  if (flags >= 0) fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace

Result<std::shared_ptr<MessageLink>> ConnectSocket(const Endpoint& endpoint,
                                                       const ConnectOptions& options,
                                                       const ShmUpgrade& upgrade) {
  const Deadline deadline = DeadlineAfter(options.connect_timeout);
  Result<Fd> socket = endpoint.scheme == Scheme::kTcp ? ConnectTcp(endpoint, deadline)
                                                      : ConnectUnix(endpoint.socket_path, deadline);
  if (!socket.ok()) return socket.status();
  const Status hello = SendHello(socket->get(), HelloInfo{HostId(), options.allow_shm});
  Result<SocketWelcomeInfo> welcome = ReceiveSocketWelcome(socket->get(), deadline);
  if (!hello.ok() && welcome.ok()) return hello;
  if (!welcome.ok()) return welcome.status();
  if (!welcome->shm_path.empty() && options.allow_shm) {
    Result<std::shared_ptr<MessageLink>> shm = upgrade(welcome->shm_path, deadline);
    // Refused (another user, no memory): the socket still works, so stay on it. But a server
    // that died during the move leaves a dead socket: say so rather than hand it out.
    if (shm.ok()) return std::move(*shm);
    if (PeerHungUp(socket->get())) {
      return Status::Unavailable("the server at " + endpoint.text +
                                 " went away while moving the channel to shared memory (" +
                                 shm.status().message() + ")");
    }
  }
  const uint64_t max_message_bytes = std::min(options.max_message_bytes, welcome->max_message_bytes);
  SocketLinkOptions link_options;
  link_options.max_frame_bytes = max_message_bytes + kMaxFrameOverhead;
  link_options.frame_timeout = options.frame_timeout;
  link_options.min_frame_bytes_per_second = options.min_frame_bytes_per_second;
  Result<std::unique_ptr<SocketLink>> link =
      SocketLink::Adopt(std::move(*socket), std::move(link_options));
  if (!link.ok()) return link.status();
  return std::shared_ptr<MessageLink>(
      FrameMessageLink::Create(std::move(*link), max_message_bytes));
}

}  // namespace ferry::internal
