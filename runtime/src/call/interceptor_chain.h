// Interceptors around a call, server's or client's: the first outermost, each given `next`,
// which runs the rest of the chain and then the call itself.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"

namespace ferry::internal {

// `run` inside `interceptors`; `run` alone when there are none. An interceptor that throws
// fails the call with INTERNAL naming `method`.
template <class Context>
Status RunInterceptorChain(
    const std::vector<std::function<Status(Context&, const std::function<Status()>&)>>&
        interceptors,
    Context& context, std::string_view method, const std::function<Status()>& run) {
  if (interceptors.empty()) return run();
  // next(i): interceptor i around next(i + 1); past the last one, `run`.
  std::function<Status(size_t)> next = [&](size_t i) -> Status {
    if (i == interceptors.size()) return run();
    try {
      return interceptors[i](context, [&next, i] { return next(i + 1); });
    } catch (const std::exception& e) {
      return Status::Internal(std::string(method) + ": an interceptor threw: " + e.what());
    } catch (...) {
      return Status::Internal(std::string(method) +
                              ": an interceptor threw a non-standard exception");
    }
  };
  return next(0);
}

}  // namespace ferry::internal
