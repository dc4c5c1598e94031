// Str implementation on malloc/realloc/free and memcpy.
#include "Str.h"

#include <stdlib.h>
#include <string.h>

namespace tosca {

Str::Str(const char* text) { *this += text; }

Str::Str(const char* data, size_t len) { append(data, len); }

Str::Str(const Str& other) { append(other.data(), other.size()); }

Str::Str(Str&& other) noexcept
    : data_(other.data_), size_(other.size_), capacity_(other.capacity_), failed_(other.failed_) {
  other.data_ = nullptr;
  other.size_ = other.capacity_ = 0;
}

Str::~Str() { free(data_); }

Str& Str::operator=(const Str& other) {
  if (this != &other) {
    clear();
    append(other.data(), other.size());
  }
  return *this;
}

Str& Str::operator=(Str&& other) noexcept {
  if (this != &other) {
    free(data_);
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    failed_ = other.failed_;
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  return *this;
}

Str Str::number(uint64_t value) {
  char buf[20];
  size_t pos = sizeof(buf);
  do {
    buf[--pos] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  return Str(buf + pos, sizeof(buf) - pos);
}

void Str::clear() {
  size_ = 0;
  failed_ = false;
  if (data_) data_[0] = '\0';
}

bool Str::reserve(size_t capacity) {
  if (capacity <= capacity_) return true;
  size_t grown = capacity_ < 16 ? 16 : capacity_ * 2;
  if (grown < capacity) grown = capacity;
  char* p = static_cast<char*>(realloc(data_, grown + 1));
  if (p == nullptr) return false;
  data_ = p;
  capacity_ = grown;
  return true;
}

Str& Str::append(const char* data, size_t len) {
  if (len == 0) return *this;
  if (len > SIZE_MAX / 2 - size_ || !reserve(size_ + len)) {
    failed_ = true;
    return *this;
  }
  memmove(data_ + size_, data, len);
  size_ += len;
  data_[size_] = '\0';
  return *this;
}

Str& Str::operator+=(const char* s) { return s ? append(s, strlen(s)) : *this; }

bool Str::equals(const char* data, size_t len) const {
  return size_ == len && (len == 0 || memcmp(data_, data, len) == 0);
}

bool Str::operator==(const char* s) const { return s ? equals(s, strlen(s)) : false; }

Str Str::lower() const {
  Str out(*this);
  for (size_t i = 0; i < out.size_; i++)
    if (out.data_[i] >= 'A' && out.data_[i] <= 'Z') out.data_[i] = static_cast<char>(out.data_[i] - 'A' + 'a');
  return out;
}

Str operator+(const Str& a, const Str& b) {
  Str out(a);
  out += b;
  return out;
}

Str operator+(const Str& a, const char* b) {
  Str out(a);
  out += b;
  return out;
}

Str operator+(const char* a, const Str& b) {
  Str out(a);
  out += b;
  return out;
}

}  // namespace tosca
