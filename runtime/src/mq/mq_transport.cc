// The mq:// rendezvous: queues created by the server, opened by the client, names removed
// as soon as both have them; both links keep the rendezvous socket to watch the peer.
#include "mq/mq_transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include "call/call_frame.h"
#include "os/deadline.h"
#include "call/handshake.h"
#include "call/frame_message_link.h"
#include "call/link_server_connection.h"
#include "call/unix_listener.h"
#include "mq/mq_link.h"

namespace ferry::internal {
namespace {

constexpr std::chrono::milliseconds kHeartbeat{100};

// The server's half: Hello in, queues created, QueueWelcome out, Mapped (queues opened) in.
Result<std::shared_ptr<MessageLink>> OpenMqLink(int socket, const ConnectionEnv& env) {
  const Deadline deadline = DeadlineAfter(env.options->handshake_timeout);
  // The queues are mode 0600: another user could not open them anyway.
  if (Status s = RefuseOtherUsers(socket, "mq:// serves"); !s.ok()) return s;
  Result<HelloInfo> hello = ReceiveHello(socket, deadline);
  if (!hello.ok()) return hello.status();
  MqLinkOptions options;
  options.max_message_bytes = env.options->max_message_bytes + kMaxFrameOverhead;
  options.heartbeat = kHeartbeat;
  options.peer_socket = socket;  // kept open: its hang-up tells the link the client is gone
  MqQueueNames names;
  Result<std::unique_ptr<MqLink>> link = MqLink::Create(options, &names);
  if (!link.ok()) {
    (void)SendRefusal(socket, link.status());
    return link.status();
  }
  QueueWelcomeInfo welcome{names.request, names.reply, options.queue_message_bytes,
                           env.options->max_message_bytes,
                           static_cast<uint32_t>(kHeartbeat.count())};
  if (Status s = SendQueueWelcome(socket, welcome); !s.ok()) return s;  // ~MqLink removes
  if (Status s = ReceiveMapped(socket, deadline); !s.ok()) return s;
  (*link)->RemoveNames();  // both sides have the queues open: nothing left to leak
  return std::shared_ptr<MessageLink>(
      FrameMessageLink::Create(std::move(*link), env.options->max_message_bytes));
}

std::shared_ptr<ServerConnection> NewMqConnection(Fd client, ConnectionEnv env) {
  return std::make_shared<LinkServerConnection>(std::move(client), &OpenMqLink, std::move(env));
}

}  // namespace

Result<std::unique_ptr<Listener>> ListenMq(const Endpoint& endpoint) {
  Result<std::unique_ptr<Listener>> listener =
      UnixListener::Listen(endpoint.text, endpoint.socket_path, &NewMqConnection);
  if (listener.ok()) MqLink::SweepStaleQueues();  // after taking the name: a predecessor's
  return listener;
}

Result<std::shared_ptr<MessageLink>> ConnectMq(const Endpoint& endpoint,
                                                   const ConnectOptions& options) {
  const Deadline deadline = DeadlineAfter(options.connect_timeout);
  Result<Fd> socket = ConnectUnix(endpoint.socket_path, deadline);
  if (!socket.ok()) return socket.status();
  const Status hello = SendHello(socket->get());
  Result<QueueWelcomeInfo> welcome = ReceiveQueueWelcome(socket->get(), deadline);
  if (!hello.ok() && welcome.ok()) return hello;
  if (!welcome.ok()) return welcome.status();
  const uint64_t max_message_bytes =
      std::min(options.max_message_bytes, welcome->max_message_bytes);
  MqLinkOptions link_options;
  link_options.max_message_bytes = max_message_bytes + kMaxFrameOverhead;
  link_options.heartbeat = std::chrono::milliseconds(welcome->heartbeat_ms);
  link_options.peer_socket = socket->get();  // kept open: tells the link the server is gone
  if (link_options.heartbeat.count() == 0 || link_options.heartbeat > std::chrono::seconds(1)) {
    return Status::DataLoss("server asked for a heartbeat of " +
                            std::to_string(welcome->heartbeat_ms) + " ms");
  }
  Result<std::unique_ptr<MqLink>> link =
      MqLink::Open(MqQueueNames{welcome->request_queue, welcome->reply_queue}, link_options);
  if (!link.ok()) return link.status();
  (*link)->RemoveNames();
  if (Status s = SendMapped(socket->get()); !s.ok()) return s;
  return std::shared_ptr<MessageLink>(
      FrameMessageLink::Create(std::move(*link), max_message_bytes));
}

}  // namespace ferry::internal
