// Host stubs of the few Arduino/ESP8266 APIs the manager uses: declarations only, so the
// Arduino glue (NodeMcuManager.cpp) and the example sketch are compile-checked with g++.
// They are never linked or run; the real behaviour comes from the ESP8266 core.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

class String {
 public:
  String() = default;
  String(const char* s) : s_(s ? s : "") {}
  explicit String(int);
  explicit String(unsigned int);
  explicit String(uint32_t, int);
  explicit String(float, int);
  const char* c_str() const { return s_.c_str(); }
  int lastIndexOf(char) const;
  String substring(int) const;
  long toInt() const;
  bool operator!=(const char* o) const { return s_ != o; }
  String operator+(const String& o) const { return String((s_ + o.s_).c_str()); }
  String operator+(const char* o) const { return String((s_ + o).c_str()); }
  friend String operator+(const char* a, const String& b) { return String((std::string(a) + b.s_).c_str()); }

 private:
  std::string s_;
};

struct HardwareSerial {
  void begin(unsigned long);
  void println(const char*);
};
extern HardwareSerial Serial;

struct EspClass {
  uint32_t getChipId();
  void restart();
};
extern EspClass ESP;

unsigned long millis();
void delay(unsigned long);
void yield();
const int D4 = 2;
using std::isnan;
