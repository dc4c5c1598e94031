// ManagerCore: the NodeMcuManager's message handling in plain C++ (no Arduino headers, no C++
// standard library, no exceptions or RTTI needed), so the host tests run it with g++ against the
// shared fixtures in firmware/fixtures/protocol/ and it cross-compiles for the ESP8266 CPU with
// a freestanding toolchain (`make esp8266`).
// Same wire format, response texts and semantics as the Rust agent (firmware/src/agent/core.rs).
// Malformed control messages (bad JSON, unknown messageType, missing fields) are ignored:
// all devices share the control topic, and an answer could not name the command.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "Md5.h"
#include "Str.h"

namespace tosca {

// Exact `response` texts.
extern const char* const kSuccess;
extern const char* const kMd5Mismatch;
extern const char* const kSizeMismatch;
extern const char* const kBadMagicByte;
extern const char* const kNotEnoughSpace;
extern const char* const kNoAppInstalled;
extern const char* const kAppRefusedToStart;
extern const char* const kFlashInterrupted;
const uint8_t kEsp8266MagicByte = 0xE9;

// What the device keeps across reboots.
struct State {
  bool hasApp = false;
  Str appMd5;
  uint64_t appSize = 0;
  bool running = false;
  bool hasConfig = false;
  Str appConfig;
  bool hasPending = false;
  Str pendingResponse;  // published right after the next boot (the answer could not go out)
  bool flashing = false;        // an install was writing when the device went down
};

// Persistent storage of State (LittleFS on the board, memory on the host).
class Storage {
 public:
  virtual ~Storage() = default;
  virtual bool load(State& out) = 0;
  virtual bool save(const State& state) = 0;
};

// The flash area a new image is written to (the ESP8266 Updater on the board).
class Flash {
 public:
  virtual ~Flash() = default;
  // Prepare for an image of `size` bytes; false when it does not fit.
  virtual bool begin(uint64_t size) = 0;
  virtual bool write(const uint8_t* data, size_t len) = 0;
  // Make the written image the one that boots next.
  virtual bool commit() = 0;
  // Forget the written bytes; the running app stays.
  virtual void abort() = 0;
};

// Receives the bytes of one download.
class DownloadSink {
 public:
  virtual ~DownloadSink() = default;
  // The response started; `total` is the full image size when `known`. false: stop.
  virtual bool started(bool known, uint64_t total) = 0;
  // The next bytes. false: stop (a check failed).
  virtual bool chunk(const uint8_t* data, size_t len) = 0;
};

struct FetchResult {
  enum Kind { Done, Retry, Fatal } kind = Done;
  Str reason;
};

// HTTP GET with `Range: bytes=<offset>-` when offset > 0.
class Downloader {
 public:
  virtual ~Downloader() = default;
  virtual FetchResult fetch(const Str& url, uint64_t offset, DownloadSink& sink) = 0;
  virtual void waitBeforeRetry() {}
};

// Where messages go (the MQTT client on the board).
class Outbox {
 public:
  virtual ~Outbox() = default;
  // On the response topic, QoS 1. false only when it was certainly not sent (no connection to
  // write it to); a write whose acknowledgement did not come counts as sent, because a second
  // answer would count for the engine's next operation.
  virtual bool publish(const Str& json) = 0;
  // Restart without reading another message (a command that comes in meanwhile stays with the
  // broker, which sends it again after the boot).
  virtual void reboot() = 0;
  virtual void log(const Str&) {}
};

// Milliseconds since some fixed moment (Arduino millis() on the board; the host tests drive it).
// It wraps around after 2^32 ms: the core only looks at differences of two readings.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint32_t nowMs() = 0;
};

// The app's callbacks (thesis listing 4.1); the defaults do nothing. start returns false when
// the app refuses.
class Callbacks {
 public:
  virtual ~Callbacks() = default;
  virtual void install() {}
  virtual void configure(const Str&) {}
  virtual bool start() { return true; }
  virtual void stop() {}
  virtual void uninstall() {}
};

Str responseJson(const Str& hardwareId, const Str& response);
Str progressJson(const Str& hardwareId, uint64_t written, uint64_t total);

class ManagerCore : private DownloadSink {
 public:
  ManagerCore(const Str& hardwareId, Storage& storage, Flash& flash, Downloader& downloader, Outbox& outbox,
              uint64_t slotCapacity = 1048576);

  // The app's callbacks (not owned; null: the defaults).
  void setCallbacks(Callbacks* callbacks) { app_ = callbacks ? callbacks : &defaults_; }
  // The clock that times progress messages (not owned; null: time stands still, so no progress
  // message unless progressIntervalMs is 0).
  void setClock(Clock* clock) { clock_ = clock; }
  int maxDownloadAttempts = 5;
  // Progress messages fall on every 1/progressSteps of the image (and its end; 0: none), but
  // only when progressIntervalMs passed since the last one or since the download (attempt)
  // started, as the Rust agent's AgentConfig::progress_interval: a fast download reports none,
  // a slow one about once per interval.
  int progressSteps = 10;
  uint32_t progressIntervalMs = 1000;

  // Load the state and publish what the last boot left to say; resume a running app.
  void boot();
  // One payload from the control topic.
  void handleMessage(const char* payload, size_t len);
  const State& state() const { return state_; }

 private:
  bool started(bool known, uint64_t total) override;
  bool chunk(const uint8_t* data, size_t len) override;

  void respond(const Str& response);
  void respondError(const Str& reason);
  void persist();
  void install(const Str& url, uint64_t size, const Str& hash);
  void failInstall(const Str& reason);

  Str id_;
  Storage& storage_;
  Flash& flash_;
  Downloader& downloader_;
  Outbox& outbox_;
  uint64_t slotCapacity_;
  State state_;
  Callbacks defaults_;
  Callbacks* app_ = &defaults_;
  Clock* clock_ = nullptr;

  // The install in progress.
  uint64_t size_ = 0;
  uint64_t written_ = 0;
  uint64_t nextProgress_ = 0;
  uint32_t lastProgressMs_ = 0;  // the last progress message or the download's start
  Md5 md5_;
  Str failure_;  // set by the sink when a check fails
};

}  // namespace tosca
