// Walks the types a method's messages reach and writes them in the layout text format.
#include "message_layout.h"

#include <set>
#include <vector>

namespace ferryc {
namespace {

std::string FullName(const flatbuffers::Definition& def) {
  std::string name;
  if (def.defined_namespace != nullptr) {
    for (const std::string& component : def.defined_namespace->components) name += component + ".";
  }
  return name + def.name;
}

class LayoutWriter {
 public:
  void Add(const flatbuffers::StructDef& def) {
    if (!seen_.insert(&def).second) return;
    pending_structs_.push_back(&def);
  }
  void Add(const flatbuffers::EnumDef& def) {
    if (!def.is_union || !seen_.insert(&def).second) return;
    pending_unions_.push_back(&def);
  }

  // Types in the order they were reached, so equal schemas give equal text.
  std::string Drain() {
    std::string text;
    while (!pending_structs_.empty() || !pending_unions_.empty()) {
      if (!pending_structs_.empty()) {
        const flatbuffers::StructDef* def = pending_structs_.front();
        pending_structs_.erase(pending_structs_.begin());
        WriteStruct(*def, text);
      } else {
        const flatbuffers::EnumDef* def = pending_unions_.front();
        pending_unions_.erase(pending_unions_.begin());
        WriteUnion(*def, text);
      }
    }
    return text;
  }

 private:
  std::string TypeText(const flatbuffers::Type& type) {
    switch (type.base_type) {
      case flatbuffers::BASE_TYPE_STRING:
        return "string";
      case flatbuffers::BASE_TYPE_STRUCT:
        Add(*type.struct_def);
        return (type.struct_def->fixed ? "struct:" : "table:") + FullName(*type.struct_def);
      case flatbuffers::BASE_TYPE_UNION:
        Add(*type.enum_def);
        return "union:" + FullName(*type.enum_def);
      case flatbuffers::BASE_TYPE_VECTOR:
        return "[" + TypeText(type.VectorType()) + "]";
      case flatbuffers::BASE_TYPE_ARRAY:
        return "[" + TypeText(type.VectorType()) + ":" + std::to_string(type.fixed_length) + "]";
      case flatbuffers::BASE_TYPE_UTYPE:
        return "utype";
      default:
        // Scalars, enums as their underlying type: what the bytes mean on the wire.
        return flatbuffers::kTypeNames[type.base_type];
    }
  }

  void WriteStruct(const flatbuffers::StructDef& def, std::string& text) {
    if (def.fixed) {
      text += "struct " + FullName(def) + " " + std::to_string(def.bytesize) + "\n";
    } else {
      text += "table " + FullName(def) + "\n";
    }
    for (const flatbuffers::FieldDef* field : def.fields.vec) {
      // A table field's id follows from its vtable slot; a struct field's place is its offset.
      const unsigned place = def.fixed ? field->value.offset : (field->value.offset - 4) / 2;
      text +=
          "field " + std::to_string(place) + " " + field->name + " " + TypeText(field->value.type);
      if (field->IsRequired()) text += " required";
      if (field->deprecated) text += " deprecated";
      text += "\n";
    }
  }

  void WriteUnion(const flatbuffers::EnumDef& def, std::string& text) {
    text += "union " + FullName(def) + "\n";
    for (const flatbuffers::EnumVal* value : def.Vals()) {
      if (value->union_type.base_type == flatbuffers::BASE_TYPE_NONE) continue;
      text += "member " + std::to_string(value->GetAsUInt64()) + " " + TypeText(value->union_type) +
              "\n";
    }
  }

  std::set<const void*> seen_;
  std::vector<const flatbuffers::StructDef*> pending_structs_;
  std::vector<const flatbuffers::EnumDef*> pending_unions_;
};

}  // namespace

std::string MessageLayout(const flatbuffers::StructDef& request,
                          const flatbuffers::StructDef& reply) {
  std::string text =
      "ferry-layout 1\nrequest " + FullName(request) + "\nreply " + FullName(reply) + "\n";
  LayoutWriter writer;
  writer.Add(request);
  writer.Add(reply);
  return text + writer.Drain();
}

}  // namespace ferryc
