// Host stub (declarations only), see Arduino.h.
#pragma once
#include "Arduino.h"
class File {
 public:
  explicit operator bool() const;
  int available();
  int read();
  size_t write(const uint8_t*, size_t);
  void close();
};
struct FS {
  bool begin();
  File open(const char*, const char*);
  bool rename(const char*, const char*);
};
extern FS LittleFS;
