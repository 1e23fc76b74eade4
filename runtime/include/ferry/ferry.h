// Everything a ferry user includes: channels, servers, statuses, messages.
#pragma once

#include "ferry/call_context.h"
#include "ferry/channel.h"
#include "ferry/generated_support.h"
#include "ferry/log.h"
#include "ferry/message.h"
#include "ferry/options.h"
#include "ferry/result.h"
#include "ferry/server.h"
#include "ferry/service.h"
#include "ferry/status.h"
