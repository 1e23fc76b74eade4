// ferry: looks at and calls a running ferry server from a shell, through its built-in
// ferry.Reflection and ferry.Health services (idl/ferry/reflection.idl). Messages go in and out
// as JSON, through FlatBuffers' own JSON parser and printer over the schema the server hands
// out. The exit status is the status code's number (0 OK, 3 INVALID_ARGUMENT for a bad command
// line or JSON, 5 NOT_FOUND, 14 UNAVAILABLE, ...).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "describe.h"
#include "ferry/ferry.h"
#include "ferry/reflection.ferry.h"
#include "json_codec.h"
#include "reflected_server.h"

namespace {

using ferry::Status;
using ferry::StatusCode;

constexpr const char* kUsage =
    "usage: ferry <verb> [options] <endpoint> ...\n"
    "  list <endpoint>                          services and methods, with their kinds\n"
    "  describe <endpoint> <Service|Method|Type> schema text (package.Service[.Method],\n"
    "                                           package.Type)\n"
    "  call <endpoint> <pkg.Service.Method> [<json>]\n"
    "                                           calls it with the request in JSON ({} when\n"
    "                                           none) and prints the reply as JSON; a server\n"
    "                                           stream prints a JSON line per message; client\n"
    "                                           and bidi streams read JSON lines from stdin\n"
    "  health <endpoint> [<pkg.Service>]        SERVING or NOT_SERVING (exit 14 for the\n"
    "                                           latter); no service: the whole server\n"
    "  stats <endpoint>                         per-method calls, errors, latency\n"
    "options:\n"
    "  -d <json> | -d @<file> | -d @-           the request (call), or the lines of a client\n"
    "                                           or bidi stream, from there\n"
    "  --deadline <n>ms|<n>s                    bound on each call (default 30s; streams:\n"
    "                                           none unless given)\n"
    "  --no-shm                                 stay on the socket (unix://, tcp://)\n"
    "  -h, --help                               this text\n"
    "endpoints: shm://name, unix:///path, tcp://host:port, mq://name\n"
    "exit status: the status code's number (0 OK, 3 INVALID_ARGUMENT, 5 NOT_FOUND,\n"
    "14 UNAVAILABLE, ...)\n";

struct Options {
  std::string verb;
  std::vector<std::string> args;  // positional, after the verb
  std::optional<std::string> data;
  std::optional<std::chrono::milliseconds> deadline;
  bool no_shm = false;
};

int Fail(const Status& status) {
  std::cerr << "ferry: " << ferry::StatusCodeName(status.code()) << ": " << status.message()
            << "\n";
  return static_cast<int>(status.code());
}

int Usage(const std::string& problem) {
  std::cerr << "ferry: " << problem << "\n" << kUsage;
  return static_cast<int>(StatusCode::kInvalidArgument);
}

std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  size_t end = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(end);
  if (value < 0) return std::nullopt;
  if (unit == "ms") return std::chrono::milliseconds(value);
  if (unit == "s" && value < 1000LL * 1000 * 1000) return std::chrono::seconds(value);
  return std::nullopt;
}

ferry::Result<std::string> ReadAll(std::istream& in, const std::string& what) {
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("cannot read " + what);
  return text.str();
}

// The text -d names: the argument itself, a file (@file) or stdin (@-).
ferry::Result<std::string> DataText(const std::string& data) {
  if (data.empty() || data[0] != '@') return data;
  const std::string path = data.substr(1);
  if (path == "-") return ReadAll(std::cin, "stdin");
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::InvalidArgument("cannot open " + path);
  return ReadAll(file, path);
}

ferry::CallOptions CallOptionsFor(const Options& options, bool stream) {
  ferry::CallOptions call;
  if (options.deadline) {
    call.deadline = *options.deadline;
  } else if (!stream) {
    call.deadline = std::chrono::seconds(30);
  }
  return call;
}

ferry::Result<ferry::Channel> ConnectTo(const Options& options, const std::string& endpoint) {
  ferry::ConnectOptions connect;
  connect.allow_shm = !options.no_shm;
  return ferry::Connect(endpoint, connect);
}

int List(ferry_cli::ReflectedServer& server) {
  for (const ferry_cli::ServiceEntry& service : server.services()) {
    std::cout << service.name << "\n";
    for (const ferry_cli::MethodEntry& method : service.methods) {
      std::cout << "  " << method.name.substr(service.name.size() + 1) << "  "
                << ferry::MethodKindName(method.kind) << "  " << method.request_type << " -> "
                << method.reply_type << "\n";
    }
  }
  return 0;
}

int Describe(ferry_cli::ReflectedServer& server, const std::string& target) {
  // A service, a method of one, or a type one of the services' schemas knows.
  if (const ferry_cli::ServiceEntry* service = server.FindService(target)) {
    auto schema = server.SchemaOf(service->name);
    if (!schema.ok()) return Fail(schema.status());
    std::cout << ferry_cli::DescribeService((*schema)->parser, target).value_or("");
    return 0;
  }
  if (const ferry_cli::MethodEntry* method = server.FindMethod(target)) {
    auto schema = server.SchemaOf(method->service);
    if (!schema.ok()) return Fail(schema.status());
    const std::string name = method->name.substr(method->service.size() + 1);
    std::cout << ferry_cli::DescribeMethod((*schema)->parser, method->service, name).value_or("");
    return 0;
  }
  for (const ferry_cli::ServiceEntry& service : server.services()) {
    if (!service.has_schema) continue;
    auto schema = server.SchemaOf(service.name);
    if (!schema.ok()) return Fail(schema.status());
    if (auto text = ferry_cli::DescribeType((*schema)->parser, target)) {
      std::cout << *text;
      return 0;
    }
  }
  return Fail(Status::NotFound("no service, method or type named \"" + target +
                               "\" on this server (see ferry list)"));
}

// Prints a reply or stream message as JSON.
Status Print(ferry_cli::ServiceSchema& schema, const std::string& type,
             const ferry::internal::IncomingMessage& message, bool pretty) {
  auto json = ferry_cli::MessageToJson(schema, type, message.data(), message.size(), pretty);
  if (!json.ok()) return json.status();
  std::cout << *json << std::endl;
  return Status::Ok();
}

// Writes every non-empty line of `lines` to the call's stream, then WritesDone. Stops at the
// first line that is not JSON (failing the call with it).
Status WriteLines(ferry::internal::ClientCallHandle& call, ferry_cli::ServiceSchema& schema,
                  const std::string& type, std::istream& lines, const std::string& where) {
  std::string line;
  for (size_t number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ferry::internal::OutgoingMessage message = call.NewMessage(line.size() * 2);
    Status built = ferry_cli::JsonToMessage(schema, type, line,
                                            where + " line " + std::to_string(number), message);
    if (!built.ok()) {
      call.Fail(built);
      return built;
    }
    if (Status written = call.Write(std::move(message)); !written.ok()) return Status::Ok();
  }
  (void)call.WritesDone();  // a call that has ended says why in Finish()
  return Status::Ok();
}

int Call(ferry_cli::ReflectedServer& server, const Options& options, const std::string& name,
         const std::optional<std::string>& inline_json) {
  const ferry_cli::MethodEntry* method = server.FindMethod(name);
  if (method == nullptr) {
    return Fail(Status::NotFound("no method " + name + " on this server (see ferry list)"));
  }
  auto schema_or = server.SchemaOf(method->service);
  if (!schema_or.ok()) return Fail(schema_or.status());
  ferry_cli::ServiceSchema& schema = **schema_or;
  const ferry::MethodSignature signature{method->id, method->name, ""};  // no layout: no check
  const ferry::Channel& channel = server.channel();
  const bool streams_in = method->kind == ferry::MethodKind::kClientStreaming ||
                          method->kind == ferry::MethodKind::kBidiStreaming;
  const bool stream = streams_in || method->kind == ferry::MethodKind::kServerStreaming;
  const ferry::CallOptions call_options = CallOptionsFor(options, stream);

  if (streams_in) {
    if (inline_json) return Usage("a " + std::string(ferry::MethodKindName(method->kind)) +
                                  " method reads its messages as JSON lines from stdin or -d");
    std::istringstream from_data;
    std::istream* lines = &std::cin;
    std::string where = "stdin";
    if (options.data && *options.data != "@-") {
      auto text = DataText(*options.data);
      if (!text.ok()) return Fail(text.status());
      from_data.str(*text);
      lines = &from_data;
      where = options.data->rfind('@', 0) == 0 ? options.data->substr(1) : "-d";
    }
    ferry::internal::ClientCallHandle call =
        ferry::internal::OpenCall(channel, signature, method->kind, nullptr, call_options);
    Status bad_line;
    std::thread writer;
    if (method->kind == ferry::MethodKind::kBidiStreaming) {
      writer = std::thread([&] { bad_line = WriteLines(call, schema, method->request_type, *lines, where); });
      while (std::optional<ferry::internal::IncomingMessage> message = call.Read()) {
        if (Status printed = Print(schema, method->reply_type, *message, false); !printed.ok()) {
          call.Fail(printed);
          break;
        }
      }
      writer.join();
    } else {
      bad_line = WriteLines(call, schema, method->request_type, *lines, where);
    }
    ferry::Result<ferry::internal::IncomingMessage> end = call.Finish();
    if (!bad_line.ok()) return Fail(bad_line);
    if (!end.ok()) return Fail(end.status());
    if (method->kind == ferry::MethodKind::kClientStreaming) {
      if (Status printed = Print(schema, method->reply_type, *end, true); !printed.ok()) {
        return Fail(printed);
      }
    }
    return 0;
  }

  std::string json = "{}";
  if (inline_json && options.data) return Usage("give the request once: as <json> or with -d");
  if (inline_json) json = *inline_json;
  if (options.data) {
    auto text = DataText(*options.data);
    if (!text.ok()) return Fail(text.status());
    json = *text;
  }
  ferry::internal::OutgoingMessage request = ferry::internal::NewMessage(channel, json.size() * 2);
  const std::string where =
      options.data && options.data->rfind('@', 0) == 0 ? options.data->substr(1) : "the request";
  if (Status built = ferry_cli::JsonToMessage(schema, method->request_type, json, where, request);
      !built.ok()) {
    return Fail(built);
  }
  if (method->kind == ferry::MethodKind::kServerStreaming) {
    ferry::internal::ClientCallHandle call =
        ferry::internal::OpenCall(channel, signature, method->kind, &request, call_options);
    while (std::optional<ferry::internal::IncomingMessage> message = call.Read()) {
      if (Status printed = Print(schema, method->reply_type, *message, false); !printed.ok()) {
        call.Fail(printed);
        break;
      }
    }
    ferry::Result<ferry::internal::IncomingMessage> end = call.Finish();
    return end.ok() ? 0 : Fail(end.status());
  }
  ferry::Result<ferry::internal::IncomingMessage> reply =
      ferry::internal::Call(channel, signature, method->kind, std::move(request), call_options);
  if (!reply.ok()) return Fail(reply.status());
  if (method->kind == ferry::MethodKind::kOneway) return 0;
  Status printed = Print(schema, method->reply_type, *reply, true);
  return printed.ok() ? 0 : Fail(printed);
}

int Health(const ferry::Channel& channel, const Options& options, const std::string& service) {
  ferry::Health::Client health(channel);
  auto request = health.NewCheckRequest();
  request.Finish(ferry::CreateHealthCheckRequestDirect(request.fbb(), service.c_str()));
  auto reply = health.Check(std::move(request), CallOptionsFor(options, false));
  if (!reply.ok()) {
    if (reply.status().code() == StatusCode::kUnimplemented) {
      return Fail(Status::Unimplemented(
          "the server does not offer ferry.Health (ServerOptions::health is off): " +
          reply.status().message()));
    }
    return Fail(reply.status());
  }
  const bool serving = (*reply)->status() == ferry::ServingStatus::Serving;
  std::cout << (serving ? "SERVING" : "NOT_SERVING") << "\n";
  return serving ? 0 : static_cast<int>(StatusCode::kUnavailable);
}

// The bound (us) under which at least `fraction` of the calls ended, as the server's own
// MethodStats reckons it from the same buckets.
uint64_t LatencyBound(const ferry::ReflectedMethodStats& stats, double fraction) {
  ferry::MethodStats counted;
  counted.calls = stats.calls();
  if (stats.latency() != nullptr) {
    for (const ferry::LatencyBucket* bucket : *stats.latency()) {
      counted.latency.emplace_back(bucket->below_us(), bucket->calls());
    }
  }
  return counted.LatencyBoundMicros(fraction);
}

int Stats(const ferry::Channel& channel, const Options& options) {
  ferry::Reflection::Client reflection(channel);
  auto reply = reflection.Stats(CallOptionsFor(options, false));
  if (!reply.ok()) return Fail(reply.status());
  std::printf("%-40s %10s %8s %12s %12s  %s\n", "method", "calls", "errors", "p50_us<=",
              "p99_us<=", "by status");
  if ((*reply)->methods() == nullptr) return 0;
  for (const ferry::ReflectedMethodStats* stats : *(*reply)->methods()) {
    std::string statuses;
    if (stats->by_status() != nullptr) {
      for (const ferry::StatusCount* count : *stats->by_status()) {
        if (!statuses.empty()) statuses += " ";
        statuses += std::string(ferry::StatusCodeName(static_cast<StatusCode>(count->code()))) +
                    "=" + std::to_string(count->calls());
      }
    }
    const auto bound = [&](double fraction) {
      const uint64_t us = LatencyBound(*stats, fraction);
      return us == UINT64_MAX ? std::string("inf") : std::to_string(us);
    };
    std::printf("%-40s %10llu %8llu %12s %12s  %s\n",
                stats->method() != nullptr ? stats->method()->c_str() : "",
                static_cast<unsigned long long>(stats->calls()),
                static_cast<unsigned long long>(stats->errors()), bound(0.5).c_str(),
                bound(0.99).c_str(), statuses.c_str());
  }
  return 0;
}

int Run(const Options& options) {
  const std::string& verb = options.verb;
  const auto& args = options.args;
  const auto arity = [&](size_t least, size_t most) { return args.size() >= least && args.size() <= most; };
  if (verb == "list" && !arity(1, 1)) return Usage("list takes <endpoint>");
  if (verb == "describe" && !arity(2, 2)) return Usage("describe takes <endpoint> <name>");
  if (verb == "call" && !arity(2, 3)) return Usage("call takes <endpoint> <method> [<json>]");
  if (verb == "health" && !arity(1, 2)) return Usage("health takes <endpoint> [<service>]");
  if (verb == "stats" && !arity(1, 1)) return Usage("stats takes <endpoint>");
  if (verb != "list" && verb != "describe" && verb != "call" && verb != "health" &&
      verb != "stats") {
    return Usage("unknown verb \"" + verb + "\"");
  }
  if (options.data && verb != "call") return Usage("-d goes with call only");
  ferry::Result<ferry::Channel> channel = ConnectTo(options, args[0]);
  if (!channel.ok()) return Fail(channel.status());
  if (verb == "health") return Health(*channel, options, args.size() > 1 ? args[1] : "");
  if (verb == "stats") return Stats(*channel, options);
  ferry::Result<ferry_cli::ReflectedServer> server =
      ferry_cli::ReflectedServer::Load(*channel, CallOptionsFor(options, false));
  if (!server.ok()) return Fail(server.status());
  if (verb == "list") return List(*server);
  if (verb == "describe") return Describe(*server, args[1]);
  return Call(*server, options, args[1],
              args.size() > 2 ? std::optional<std::string>(args[2]) : std::nullopt);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--no-shm") {
      options.no_shm = true;
    } else if (arg == "-d") {
      options.data = value();
      if (!options.data) return Usage("-d needs <json>, @<file> or @-");
    } else if (arg == "--deadline") {
      const std::optional<std::string> text = value();
      options.deadline = text ? ParseDuration(*text) : std::nullopt;
      if (!options.deadline) return Usage("--deadline takes <n>ms or <n>s");
    } else if (arg.size() > 1 && arg[0] == '-' && arg[1] != '{' && arg != "-") {
      return Usage("unknown option " + arg);
    } else if (options.verb.empty()) {
      options.verb = arg;
    } else {
      options.args.push_back(arg);
    }
  }
  if (options.verb.empty()) return Usage("no verb");
  return Run(options);
}
