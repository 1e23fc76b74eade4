// CodeWriter: {{Var}} substitution, indentation and line wrapping for generated code.
#include "code_writer.h"

namespace ferryc {

std::string CodeWriter::Substitute(std::string_view text) const {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    std::string key(text.substr(open + 2, close - open - 2));
    auto it = vars_.find(key);
    if (it != vars_.end()) {
      out += it->second;
    } else {
      out.append(text.substr(open, close + 2 - open));  // left visible: a generator bug
    }
    pos = close + 2;
  }
  out.append(text.substr(pos));
  return out;
}

CodeWriter& CodeWriter::operator+=(std::string_view text) {
  std::string expanded = Substitute(text);
  size_t pos = 0;
  while (pos <= expanded.size()) {
    size_t end = expanded.find('\n', pos);
    if (end == std::string::npos) end = expanded.size();
    std::string_view line(expanded.data() + pos, end - pos);
    if (!line.empty()) out_.append(static_cast<size_t>(indent_), ' ').append(line);
    out_ += '\n';
    pos = end + 1;
  }
  return *this;
}

void CodeWriter::Literal(std::string_view line) {
  if (!line.empty()) out_.append(static_cast<size_t>(indent_), ' ').append(line);
  out_ += '\n';
}

void CodeWriter::Blank() {
  if (out_.empty() || out_.ends_with("\n\n") || out_.ends_with("{\n")) return;
  out_ += '\n';
}

std::string UnsplicedComment(std::string line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.pop_back();
  }
  if (line.ends_with('\\') || line.ends_with("?\?/")) line += " //";
  return line;
}

namespace {

// Packs `items` into lines that start with `first` (then `align` spaces), within the limit.
std::vector<std::string> Pack(int indent, const std::string& first, size_t align,
                              const std::vector<std::string>& items) {
  std::vector<std::string> lines;
  std::string current = first;
  bool empty = true;
  for (const std::string& item : items) {
    if (empty) {
      current += item;
      empty = false;
    } else if (indent + current.size() + 1 + item.size() <= static_cast<size_t>(kColumnLimit)) {
      current += " " + item;
    } else {
      lines.push_back(current);
      current = std::string(align, ' ') + item;
    }
  }
  lines.push_back(current);
  return lines;
}

bool Fits(int indent, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    if (indent + line.size() > static_cast<size_t>(kColumnLimit)) return false;
  }
  return true;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (true) {
    size_t end = text.find('\n', pos);
    lines.push_back(text.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    if (end == std::string::npos) return lines;
    pos = end + 1;
  }
}

}  // namespace

std::string WrapDeclaration(int indent, const std::string& ret, const std::string& name,
                            const std::vector<std::string>& args, const std::string& tail) {
  std::string together = WrapCall(indent, ret + " " + name, args, tail);
  if (Fits(indent, SplitLines(together))) return together;
  return ret + "\n" + WrapCall(indent, name, args, tail);
}

std::string WrapCall(int indent, const std::string& head, const std::vector<std::string>& args,
                     const std::string& tail) {
  std::vector<std::string> items;
  std::string one_line = head;
  for (size_t i = 0; i < args.size(); ++i) {
    bool last = i + 1 == args.size();
    items.push_back(args[i] + (last ? tail : ","));
    one_line += args[i] + (last ? "" : ", ");
  }
  one_line += tail;
  if (args.empty() || indent + one_line.size() <= static_cast<size_t>(kColumnLimit)) {
    return one_line;
  }
  std::vector<std::string> aligned = Pack(indent, head, head.size(), items);
  if (Fits(indent, aligned)) return Join(aligned);
  std::vector<std::string> broken = Pack(indent, "    ", 4, items);
  broken.insert(broken.begin(), head);
  return Join(broken);
}

}  // namespace ferryc
