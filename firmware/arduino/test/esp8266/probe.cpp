// Size probe for the ESP8266 cross build (`make esp8266`): links the core into one image with
// picolibc, with the smallest platform bindings (state in RAM, flash writes counted, a fixed
// download), so the linker must resolve every symbol the core needs on the chip. It is not
// flashed; on a board NodeMcuManager.cpp provides the real bindings.
#include <stdlib.h>

#include "ManagerCore.h"

// What libsupc++ would provide; the core never allocates with `new` and never throws.
void operator delete(void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
extern "C" void __cxa_pure_virtual() { abort(); }

// Debian's xtensa-lx106 libgcc is built without the 64-bit multiply and divide helpers that
// the ESP8266 Arduino toolchain's libgcc has; shift-and-add stand-ins so the probe links.
extern "C" {
uint64_t __muldi3(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  for (; b != 0; b >>= 1, a <<= 1)
    if (b & 1) r += a;
  return r;
}
static uint64_t udivmod(uint64_t n, uint64_t d, uint64_t* rem) {
  uint64_t q = 0, r = 0;
  for (int bit = 63; bit >= 0; bit--) {
    r = (r << 1) | ((n >> bit) & 1);
    if (r >= d) {
      r -= d;
      q |= static_cast<uint64_t>(1) << bit;
    }
  }
  *rem = r;
  return q;
}
uint64_t __udivdi3(uint64_t n, uint64_t d) {
  uint64_t r;
  return udivmod(n, d, &r);
}
uint64_t __umoddi3(uint64_t n, uint64_t d) {
  uint64_t r;
  udivmod(n, d, &r);
  return r;
}
}

namespace {

struct RamStorage : tosca::Storage {
  tosca::State saved;
  bool load(tosca::State& out) override {
    out = saved;
    return true;
  }
  bool save(const tosca::State& s) override {
    saved = s;
    return true;
  }
};

struct CountingFlash : tosca::Flash {
  size_t written = 0;
  bool begin(uint64_t) override { return true; }
  bool write(const uint8_t*, size_t len) override {
    written += len;
    return true;
  }
  bool commit() override { return true; }
  void abort() override { written = 0; }
};

struct FixedDownloader : tosca::Downloader {
  tosca::FetchResult fetch(const tosca::Str&, uint64_t, tosca::DownloadSink& sink) override {
    static const uint8_t image[4] = {tosca::kEsp8266MagicByte, 1, 2, 3};
    if (sink.started(true, sizeof(image))) sink.chunk(image, sizeof(image));
    return {};
  }
};

// Stands in for millis(): a quarter second per reading.
struct StepClock : tosca::Clock {
  uint32_t now = 0;
  uint32_t nowMs() override { return now += 250; }
};

struct CountingOutbox : tosca::Outbox {
  size_t published = 0;
  bool publish(const tosca::Str& json) override {
    published += json.size();
    return true;
  }
  void reboot() override {}
};

}  // namespace

int main() {
  RamStorage storage;
  CountingFlash flash;
  FixedDownloader downloader;
  CountingOutbox outbox;
  StepClock clock;
  tosca::ManagerCore core("1345963", storage, flash, downloader, outbox);
  core.setClock(&clock);
  core.boot();
  static const char install[] =
      "{\"messageType\":\"install\",\"installUrl\":\"http://h/a.bin\",\"binarySize\":4,"
      "\"hash\":\"08d6c05a21512a79a1dfeb9d2a8f262f\"}";
  core.handleMessage(install, sizeof(install) - 1);
  static const char start[] = "{\"messageType\":\"start\"}";
  core.handleMessage(start, sizeof(start) - 1);
  return outbox.published > 0 && flash.written == 4 ? 0 : 1;
}
