// ferry::Status: the outcome of every fallible ferry operation.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace ferry {

// Codes in the gRPC tradition. The numeric values are part of the wire protocol
// (idl/ferry/protocol.fbs): never renumber; add new codes at the end.
enum class StatusCode : uint32_t {
  kOk = 0,
  // The caller cancelled the call. Do not retry unless the caller still wants the result.
  kCancelled = 1,
  // An error with no better code. Treat as permanent.
  kUnknown = 2,
  // The request was malformed (for instance it failed the FlatBuffers verifier). Fix the
  // request; retrying the same bytes fails the same way.
  kInvalidArgument = 3,
  // The deadline passed before a reply arrived. The server may still have done the work.
  kDeadlineExceeded = 4,
  // A named thing (an endpoint, a service) does not exist.
  kNotFound = 5,
  kAlreadyExists = 6,
  // The peer refused the caller (wrong user, for instance).
  kPermissionDenied = 7,
  // A bound was hit: a message larger than the largest slot class, no free call slot or
  // buffer before the deadline, too many connections. Retry later with backoff, or smaller.
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  // The server does not implement this method (or this kind of method yet).
  kUnimplemented = 12,
  // A bug: a handler threw, or an invariant broke. The message says what.
  kInternal = 13,
  // The peer is gone or unreachable; most likely transient. Reconnect and retry with backoff
  // (mind that a non-idempotent call may already have run).
  kUnavailable = 14,
  // A message arrived damaged (a reply that failed verification, a bad descriptor).
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The upper-case name of a code ("DEADLINE_EXCEEDED"); "UNKNOWN_CODE" for values outside the enum.
std::string_view StatusCodeName(StatusCode code);

// A code plus a human-readable message. An OK status allocates nothing.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Unknown(std::string m) { return {StatusCode::kUnknown, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK" or "CODE: message".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);
std::ostream& operator<<(std::ostream& os, StatusCode code);

}  // namespace ferry
