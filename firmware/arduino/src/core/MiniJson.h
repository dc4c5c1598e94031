// MiniJson: a small, strict JSON reader and string escaper in freestanding C++ (no Arduino
// headers, no C++ standard library), enough for the device protocol messages and the shared
// test fixtures. `parse` validates the whole text once; values are then read in place from it
// (no tree is built; only decoded strings allocate). Never throws.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "Str.h"

namespace tosca {

class Json {
 public:
  enum class Type { Missing, Null, Bool, Number, String, Array, Object };

  Json() = default;

  // Validate `text` (all of it). `out` views the text, which must outlive `out` and every value
  // read from it. Returns false (and leaves `out` missing) on any syntax error, trailing junk
  // or nesting deeper than 32 levels.
  static bool parse(const char* text, size_t len, Json& out);
  static bool parse(const char* text, Json& out);  // NUL-terminated
  static bool parse(const Str& text, Json& out) { return parse(text.data(), text.size(), out); }

  Type type() const { return type_; }
  // A member or item that is not there (get/item on a missing key, index or non-container).
  bool isMissing() const { return type_ == Type::Missing; }
  bool isNull() const { return type_ == Type::Null; }
  bool isBool() const { return type_ == Type::Bool; }
  bool isString() const { return type_ == Type::String; }
  bool isObject() const { return type_ == Type::Object; }
  bool isArray() const { return type_ == Type::Array; }
  bool isNumber() const { return type_ == Type::Number; }
  // Whether the number literal is a non-negative integer that fits in 64 bits.
  bool isUnsigned() const;

  bool asBool() const { return type_ == Type::Bool && p_[0] == 't'; }
  uint64_t asUnsigned() const;  // 0 unless isUnsigned()
  Str asString() const;         // the decoded text (UTF-8); empty unless isString()
  // Items of an array, members of an object.
  size_t size() const;
  Json item(size_t index) const;
  // The first member named `key` of an object; missing when there is none.
  Json get(const char* key) const;

 private:
  Json(const char* p, size_t n, Type t) : p_(p), n_(n), type_(t) {}
  static Json view(const char* begin, const char* end);
  const char* p_ = nullptr;  // the value's text
  size_t n_ = 0;
  Type type_ = Type::Missing;
};

// `value` as a JSON string literal, quotes included.
Str jsonQuote(const Str& value);

}  // namespace tosca
