// Md5: incremental MD5 (RFC 1321) in plain C++, for the install hash check on the host and on
// boards whose core lacks MD5Builder. Transmission-error protection only, as the thesis says.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "Str.h"

namespace tosca {

class Md5 {
 public:
  Md5();
  void update(const uint8_t* data, size_t len);
  // Lowercase hex digest; the object must not be updated afterwards.
  Str hexDigest();

 private:
  void block(const uint8_t* p);
  uint32_t a_, b_, c_, d_;
  uint64_t length_ = 0;
  uint8_t buffer_[64];
  size_t used_ = 0;
};

}  // namespace tosca
