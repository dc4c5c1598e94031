// MiniJson: a small, strict JSON reader and string escaper in plain C++ (no Arduino headers),
// enough for the device protocol messages and the shared test fixtures. Never throws.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tosca {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;

  // Parse `text`; returns false (and leaves `out` null) on any syntax error or trailing junk.
  static bool parse(const std::string& text, Json& out);

  Type type() const { return type_; }
  bool isNull() const { return type_ == Type::Null; }
  bool isBool() const { return type_ == Type::Bool; }
  bool isString() const { return type_ == Type::String; }
  bool isObject() const { return type_ == Type::Object; }
  bool isArray() const { return type_ == Type::Array; }
  bool isNumber() const { return type_ == Type::Number; }
  // Whether the number literal was a non-negative integer that fits in 64 bits.
  bool isUnsigned() const { return type_ == Type::Number && isUnsigned_; }

  bool asBool() const { return boolean_; }
  uint64_t asUnsigned() const { return unsigned_; }
  const std::string& asString() const { return string_; }
  const std::vector<Json>& items() const { return items_; }
  // Member `key` of an object, or nullptr.
  const Json* get(const std::string& key) const;

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool boolean_ = false;
  bool isUnsigned_ = false;
  uint64_t unsigned_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

// `value` as a JSON string literal, quotes included.
std::string jsonQuote(const std::string& value);

}  // namespace tosca
