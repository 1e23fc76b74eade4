// Reading a layout text and comparing two of them, type by type.
#include "call/schema_layout.h"

#include <charconv>
#include <set>
#include <utility>

namespace ferry::internal {
namespace {

// Deeper nesting than this (vectors of vectors..., tables in tables...) is not compared
// further; no schema a person writes comes near it.
constexpr int kMaxDepth = 64;

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t at = 0;
  while (at < line.size()) {
    const size_t end = std::min(line.find(' ', at), line.size());
    if (end > at) words.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  return words;
}

// "<element>:<n>" (a fixed array's inside) as element and ":<n>"; anything else as itself and
// no length.
std::pair<std::string_view, std::string_view> SplitLength(std::string_view inside) {
  const size_t colon = inside.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == inside.size() ||
      inside.find_first_not_of("0123456789", colon + 1) != std::string_view::npos) {
    return {inside, ""};
  }
  return {inside.substr(0, colon), inside.substr(colon)};
}

bool ParseNumber(std::string_view text, uint32_t* value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

class Comparison {
 public:
  Comparison(const MessageLayout& writer, std::string_view writer_side, const MessageLayout& reader,
             std::string_view reader_side)
      : writer_(writer), reader_(reader), writer_side_(writer_side), reader_side_(reader_side) {}

  std::string Types(std::string_view w, std::string_view r, const std::string& where, int depth) {
    if (depth > kMaxDepth) return "";
    if (w.starts_with('[') && r.starts_with('[') && w.ends_with(']') && r.ends_with(']')) {
      w = w.substr(1, w.size() - 2);
      r = r.substr(1, r.size() - 2);
      // A fixed array's length is part of its type; a vector has none.
      const auto [w_element, w_length] = SplitLength(w);
      const auto [r_element, r_length] = SplitLength(r);
      if (w_length != r_length) return Differ(where, w, r);
      return Types(w_element, r_element, where + " (its elements)", depth + 1);
    }
    for (const std::string_view prefix : {"table:", "struct:", "union:"}) {
      if (w.starts_with(prefix) && r.starts_with(prefix)) {
        return Named(w.substr(prefix.size()), r.substr(prefix.size()), where, depth + 1);
      }
    }
    return w == r ? "" : Differ(where, w, r);
  }

 private:
  std::string Differ(const std::string& where, std::string_view w, std::string_view r) const {
    return where + " is " + std::string(w) + " for the " + std::string(writer_side_) + " but " +
           std::string(r) + " for the " + std::string(reader_side_);
  }

  std::string Named(std::string_view w_name, std::string_view r_name, const std::string& where,
                    int depth) {
    const auto w = writer_.types.find(w_name);
    const auto r = reader_.types.find(r_name);
    if (w == writer_.types.end() || r == reader_.types.end()) {
      return where + " names a type its layout does not describe";
    }
    if (w->second.kind != r->second.kind) {
      return Differ(where, w_name, r_name);
    }
    if (!visited_.emplace(std::string(w_name), std::string(r_name)).second) return "";
    const LayoutType& wt = w->second;
    const LayoutType& rt = r->second;
    const std::string in = std::string(r_name);
    switch (rt.kind) {
      case LayoutType::Kind::kStruct: {
        // A struct is inline bytes: both sides must agree on every one of them.
        if (wt.bytes != rt.bytes || wt.members.size() != rt.members.size()) {
          return "struct " + in + " has another size or other fields for the " +
                 std::string(writer_side_) + " (" + std::string(w_name) + ")";
        }
        for (size_t i = 0; i < rt.members.size(); ++i) {
          const LayoutMember& wm = wt.members[i];
          const LayoutMember& rm = rt.members[i];
          const std::string field =
              in + "." + rm.name + " (offset " + std::to_string(rm.place) + ")";
          if (wm.place != rm.place) return Differ(field + "'s offset", "another", "this one");
          if (std::string why = Types(wm.type, rm.type, field, depth); !why.empty()) return why;
        }
        return "";
      }
      case LayoutType::Kind::kUnion:
        for (const LayoutMember& rm : rt.members) {
          for (const LayoutMember& wm : wt.members) {
            if (wm.place != rm.place) continue;
            const std::string member = in + " member " + std::to_string(rm.place);
            if (std::string why = Types(wm.type, rm.type, member, depth); !why.empty()) {
              return why;
            }
          }
        }
        return "";
      case LayoutType::Kind::kTable:
        for (const LayoutMember& rm : rt.members) {
          if (rm.deprecated) continue;  // the reader ignores it
          const std::string field =
              in + "." + rm.name + " (field " + std::to_string(rm.place) + ")";
          const LayoutMember* wm = nullptr;
          for (const LayoutMember& candidate : wt.members) {
            if (candidate.place == rm.place && !candidate.deprecated) wm = &candidate;
          }
          if (wm == nullptr) {
            if (rm.required) {
              return field + " is required by the " + std::string(reader_side_) + " but the " +
                     std::string(writer_side_) + "'s " + std::string(w_name) + " does not write it";
            }
            continue;  // added by the reader's side: it reads the default
          }
          if (std::string why = Types(wm->type, rm.type, field, depth); !why.empty()) {
            return why;
          }
        }
        return "";
    }
    return "";
  }

  const MessageLayout& writer_;
  const MessageLayout& reader_;
  std::string_view writer_side_;
  std::string_view reader_side_;
  std::set<std::pair<std::string, std::string>> visited_;
};

}  // namespace

Result<MessageLayout> ParseLayout(std::string_view text) {
  if (text.size() > kMaxLayoutBytes) {
    return Status::InvalidArgument("layout of " + std::to_string(text.size()) + " bytes (at most " +
                                   std::to_string(kMaxLayoutBytes) + ")");
  }
  MessageLayout layout;
  LayoutType* current = nullptr;
  size_t line_number = 0;
  bool header = false;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_number;
    const auto bad = [&](std::string_view why) {
      return Status::InvalidArgument("layout line " + std::to_string(line_number) + ": " +
                                     std::string(why));
    };
    const std::vector<std::string_view> words = Words(line);
    if (words.empty()) continue;
    const std::string_view verb = words[0];
    if (!header) {
      if (words.size() != 2 || verb != "ferry-layout" || words[1] != "1") {
        return bad("expected 'ferry-layout 1'");
      }
      header = true;
      continue;
    }
    if ((verb == "request" || verb == "reply") && words.size() == 2) {
      (verb == "request" ? layout.request : layout.reply) = std::string(words[1]);
      continue;
    }
    if ((verb == "table" && words.size() == 2) || (verb == "union" && words.size() == 2) ||
        (verb == "struct" && words.size() == 3)) {
      LayoutType type;
      type.kind = verb == "table"   ? LayoutType::Kind::kTable
                  : verb == "union" ? LayoutType::Kind::kUnion
                                    : LayoutType::Kind::kStruct;
      if (type.kind == LayoutType::Kind::kStruct && !ParseNumber(words[2], &type.bytes)) {
        return bad("a struct's size is not a number");
      }
      auto [it, inserted] = layout.types.emplace(std::string(words[1]), std::move(type));
      if (!inserted) return bad("type " + std::string(words[1]) + " twice");
      current = &it->second;
      continue;
    }
    if (current == nullptr) return bad("a member before any type");
    LayoutMember member;
    if (verb == "member" && words.size() == 3 && current->kind == LayoutType::Kind::kUnion) {
      if (!ParseNumber(words[1], &member.place)) return bad("a member's value is not a number");
      member.type = std::string(words[2]);
    } else if (verb == "field" && words.size() >= 4 && words.size() <= 6 &&
               current->kind != LayoutType::Kind::kUnion) {
      if (!ParseNumber(words[1], &member.place)) return bad("a field's place is not a number");
      member.name = std::string(words[2]);
      member.type = std::string(words[3]);
      for (size_t i = 4; i < words.size(); ++i) {
        if (words[i] == "required") {
          member.required = true;
        } else if (words[i] == "deprecated") {
          member.deprecated = true;
        } else {
          return bad("unknown field flag '" + std::string(words[i]) + "'");
        }
      }
    } else {
      return bad("unknown line '" + std::string(verb) + "'");
    }
    current->members.push_back(std::move(member));
  }
  if (!header || layout.request.empty() || layout.reply.empty()) {
    return Status::InvalidArgument("layout without its header, request or reply line");
  }
  return layout;
}

std::string Incompatibility(const MessageLayout& writer, std::string_view writer_type,
                            std::string_view writer_side, const MessageLayout& reader,
                            std::string_view reader_type, std::string_view reader_side) {
  Comparison comparison(writer, writer_side, reader, reader_side);
  return comparison.Types("table:" + std::string(writer_type), "table:" + std::string(reader_type),
                          std::string(reader_type), 0);
}

}  // namespace ferry::internal
