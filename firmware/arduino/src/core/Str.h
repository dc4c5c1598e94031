// Str: a small owning byte string on malloc/free (no C++ standard library), so the core builds
// with a freestanding cross compiler (Debian's xtensa-lx106, no libstdc++) and without
// exceptions. When memory runs out an append is dropped and `failed()` turns true.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace tosca {

class Str {
 public:
  Str() = default;
  Str(const char* text);  // NOLINT: implicit, like std::string
  Str(const char* data, size_t len);
  Str(const Str& other);
  Str(Str&& other) noexcept;
  ~Str();
  Str& operator=(const Str& other);
  Str& operator=(Str&& other) noexcept;

  // Decimal text of `value`.
  static Str number(uint64_t value);

  const char* data() const { return data_ ? data_ : ""; }
  const char* c_str() const { return data(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool failed() const { return failed_; }
  char operator[](size_t i) const { return data_[i]; }
  void clear();

  Str& append(const char* data, size_t len);
  Str& operator+=(const Str& s) { return append(s.data(), s.size()); }
  Str& operator+=(const char* s);
  Str& operator+=(char c) { return append(&c, 1); }

  bool equals(const char* data, size_t len) const;
  bool operator==(const Str& s) const { return equals(s.data(), s.size()); }
  bool operator!=(const Str& s) const { return !(*this == s); }
  bool operator==(const char* s) const;
  bool operator!=(const char* s) const { return !(*this == s); }
  // ASCII letters lowered.
  Str lower() const;

 private:
  bool reserve(size_t capacity);
  char* data_ = nullptr;  // NUL-terminated when not null
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool failed_ = false;
};

Str operator+(const Str& a, const Str& b);
Str operator+(const Str& a, const char* b);
Str operator+(const char* a, const Str& b);

}  // namespace tosca
