// Bad input on a socket: a server on tcp:// in this process, peers that write raw bytes.
// Each bad input gets its status (or, for a peer that does not speak the protocol, a closed
// connection), one log line on the server, and the server keeps serving a good client.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "call/call_frame.h"
#include "call/handshake.h"
#include "os/unix_socket.h"
#include "ferry/ferry.h"
#include "support/shm_files.h"
#include "test_service.ferry.h"

namespace ferry {
namespace {

using namespace std::chrono_literals;
namespace ft = ferry::test;
using internal::CallHeader;
using internal::FrameType;

class AddService final : public ft::TestService::Service {
  Status Add(CallContext&, const ft::AddRequest& request, Reply<ft::AddReply>& reply) override {
    reply.Finish(ft::CreateAddReply(reply.fbb(), request.a() + request.b()));
    return Status::Ok();
  }
};

// A peer on a raw TCP socket that writes whatever the test asks.
class RawPeer {
 public:
  explicit RawPeer(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  bool connected() const { return connected_; }

  // Hello, then SocketWelcome: after this, call frames.
  Status Handshake() {
    if (Status s = internal::SendHello(fd_.get()); !s.ok()) return s;
    return internal::ReceiveSocketWelcome(fd_.get(), std::chrono::steady_clock::now() + 5s)
        .status();
  }
  void Write(const std::vector<uint8_t>& bytes) {
    ASSERT_EQ(send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // A whole frame: length, then the header and payload as the protocol lays them out.
  void WriteFrame(const CallHeader& fields, const std::vector<uint8_t>& payload) {
    const internal::EncodedHeader header(fields);
    std::vector<uint8_t> body(header.header().begin(), header.header().end());
    body.resize(header.size(), 0);
    body.insert(body.end(), payload.begin(), payload.end());
    Write(Length(static_cast<uint32_t>(body.size())));
    Write(body);
  }
  static std::vector<uint8_t> Length(uint32_t n) {
    return {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
            static_cast<uint8_t>(n >> 24)};
  }
  // The next frame's header fields; nullopt when the server closed the connection instead.
  std::optional<CallHeader> ReadReply() {
    uint8_t length[4];
    if (!ReadExactly(length, 4)) return std::nullopt;
    const uint32_t n = length[0] | length[1] << 8 | length[2] << 16 | uint32_t{length[3]} << 24;
    std::vector<uint8_t> frame(n);
    if (!ReadExactly(frame.data(), n)) return std::nullopt;
    Result<internal::DecodedFrame> decoded = internal::DecodeCallFrame(frame);
    if (!decoded.ok()) return std::nullopt;
    return decoded->fields;
  }
  // True when the server closes the connection (within 10 s).
  bool ClosedByServer() {
    uint8_t byte;
    pollfd p{fd_.get(), POLLIN, 0};
    return poll(&p, 1, 10000) == 1 && recv(fd_.get(), &byte, 1, 0) <= 0;
  }

 private:
  bool ReadExactly(uint8_t* out, size_t size) {
    while (size > 0) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (poll(&p, 1, 10000) != 1) return false;
      const ssize_t n = recv(fd_.get(), out, size, 0);
      if (n <= 0) return false;
      out += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  internal::Fd fd_;
  bool connected_ = false;
};

class Wire : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.handshake_timeout = 200ms;
    options.max_message_bytes = 1 << 20;
    server_ = std::make_unique<Server>(options);
    ASSERT_TRUE(server_->Add(std::make_shared<AddService>()).ok());
    ASSERT_TRUE(server_->Listen("tcp://127.0.0.1:0").ok());
    endpoint_ = server_->endpoints().front();
    port_ = static_cast<uint16_t>(std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)));
    ::testing::internal::CaptureStderr();
  }

  void TearDown() override {
    // Whatever the bad peer did, a good client is served.
    ConnectOptions options;
    options.allow_shm = false;
    Result<Channel> channel = Connect(endpoint_, options);
    ASSERT_TRUE(channel.ok()) << channel.status();
    ft::TestService::Client client(*channel);
    auto sum = client.Add(40, 2);
    ASSERT_TRUE(sum.ok()) << sum.status();
    EXPECT_EQ((*sum)->sum(), 42);
    server_.reset();
    (void)::testing::internal::GetCapturedStderr();
  }

  // The server's log lines so far that contain `text`.
  int LogLinesWith(const std::string& text) {
    const std::string log = ::testing::internal::GetCapturedStderr();
    ::testing::internal::CaptureStderr();
    int count = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
      ++count;
    }
    return count;
  }

  CallHeader Request(uint32_t method_id) {
    CallHeader fields;
    fields.type = FrameType::kRequest;
    fields.call_id = 1;
    fields.method_id = method_id;
    return fields;
  }

  std::vector<uint8_t> AddPayload(int a, int b) {
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(ft::CreateAddRequest(fbb, a, b));
    return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
  }

  testing::ScopedRuntimeDir dir_;
  std::unique_ptr<Server> server_;
  std::string endpoint_;
  uint16_t port_ = 0;
};

TEST_F(Wire, AWellFormedRawRequestIsAnswered) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.Handshake().ok());
  peer.WriteFrame(Request(static_cast<uint32_t>(ft::TestService::Method::kAdd)), AddPayload(2, 3));
  std::optional<CallHeader> reply = peer.ReadReply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->type, FrameType::kReply);
  EXPECT_EQ(reply->status_code, 0U);
}

TEST_F(Wire, UnknownMethodIdIsUnimplementedWithOneLogLine) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.Handshake().ok());
  peer.WriteFrame(Request(0xdeadbeef), AddPayload(2, 3));
  std::optional<CallHeader> reply = peer.ReadReply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status_code, static_cast<uint32_t>(StatusCode::kUnimplemented));
  EXPECT_EQ(LogLinesWith("no method with id 0xdeadbeef"), 1);
}

TEST_F(Wire, MethodOfAServiceTheServerDoesNotHaveIsUnimplemented) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.Handshake().ok());
  peer.WriteFrame(Request(static_cast<uint32_t>(ft::Unserved::Method::kPing)), AddPayload(0, 0));
  std::optional<CallHeader> reply = peer.ReadReply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status_code, static_cast<uint32_t>(StatusCode::kUnimplemented));
  EXPECT_EQ(LogLinesWith("rejected a call"), 1);
}

TEST_F(Wire, PayloadThatFailsTheVerifierIsInvalidArgumentWithOneLogLine) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.Handshake().ok());
  std::vector<uint8_t> garbage = AddPayload(2, 3);
  std::memset(garbage.data(), 0xff, 4);  // root offset far outside
  peer.WriteFrame(Request(static_cast<uint32_t>(ft::TestService::Method::kAdd)), garbage);
  std::optional<CallHeader> reply = peer.ReadReply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status_code, static_cast<uint32_t>(StatusCode::kInvalidArgument));
  EXPECT_EQ(LogLinesWith("failed FlatBuffers verification"), 1);
}

TEST_F(Wire, FrameLongerThanTheLimitClosesTheConnectionWithOneLogLine) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.Handshake().ok());
  peer.Write(RawPeer::Length(64 << 20));  // over max_message_bytes; nothing is allocated
  EXPECT_TRUE(peer.ClosedByServer());
  EXPECT_EQ(LogLinesWith("frame of 67108864 bytes"), 1);
}

TEST_F(Wire, TruncatedFrameClosesTheConnectionWithOneLogLine) {
  {
    RawPeer peer(port_);
    ASSERT_TRUE(peer.Handshake().ok());
    peer.Write(RawPeer::Length(100));
    peer.Write(std::vector<uint8_t>(10, 0));
  }  // closed mid-frame
  // The server notices asynchronously; it logs before the connection counts as ended.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (server_->connection_count() != 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  EXPECT_EQ(LogLinesWith("truncated frame"), 1);
}

TEST_F(Wire, GarbageHeaderClosesTheConnectionWithOneLogLine) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.Handshake().ok());
  std::vector<uint8_t> garbage(64, 0xa5);
  peer.Write(RawPeer::Length(static_cast<uint32_t>(garbage.size())));
  peer.Write(garbage);
  EXPECT_TRUE(peer.ClosedByServer());
  EXPECT_EQ(LogLinesWith("call header"), 1);
}

TEST_F(Wire, ReplyFrameFromAClientClosesTheConnection) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.Handshake().ok());
  CallHeader reply;
  reply.type = FrameType::kReply;
  peer.WriteFrame(reply, {});
  EXPECT_TRUE(peer.ClosedByServer());
  EXPECT_EQ(LogLinesWith("the client sent a reply"), 1);
}

TEST_F(Wire, GarbageInsteadOfAHelloClosesTheConnection) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.connected());
  peer.Write({'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1', '\r', '\n'});
  EXPECT_TRUE(peer.ClosedByServer());
  EXPECT_EQ(LogLinesWith("handshake failed"), 1);
}

TEST_F(Wire, PeerThatConnectsAndSaysNothingIsDroppedAtTheHandshakeTimeout) {
  RawPeer peer(port_);
  ASSERT_TRUE(peer.connected());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(peer.ClosedByServer());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  EXPECT_EQ(LogLinesWith("handshake failed"), 1);
}

}  // namespace
}  // namespace ferry
