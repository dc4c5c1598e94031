// NodeMcuManager implementation: Arduino bindings of tosca::ManagerCore (storage on LittleFS,
// flash through the ESP8266 Updater, HTTP with Range resume, MQTT publish and reboot).
#include "NodeMcuManager.h"

#include <ESP8266HTTPClient.h>
#include <LittleFS.h>
#include <Updater.h>

#include "core/MiniJson.h"

namespace {
const char* kStateFile = "/tosca-state.json";
const char* kStateTmp = "/tosca-state.tmp";

tosca::Str stateJson(const tosca::State& s) {
  using tosca::jsonQuote;
  tosca::Str j = tosca::Str("{\"hasApp\":") + (s.hasApp ? "true" : "false");
  j += ",\"appMd5\":" + jsonQuote(s.appMd5) + ",\"appSize\":" + tosca::Str::number(s.appSize);
  j += tosca::Str(",\"running\":") + (s.running ? "true" : "false");
  j += tosca::Str(",\"hasConfig\":") + (s.hasConfig ? "true" : "false") + ",\"appConfig\":" + jsonQuote(s.appConfig);
  j += tosca::Str(",\"hasPending\":") + (s.hasPending ? "true" : "false");
  j += ",\"pendingResponse\":" + jsonQuote(s.pendingResponse);
  j += tosca::Str(",\"flashing\":") + (s.flashing ? "true" : "false") + "}";
  return j;
}

bool flag(const tosca::Json& j, const char* k) { return j.get(k).asBool(); }

tosca::Str text(const tosca::Json& j, const char* k) { return j.get(k).asString(); }
}  // namespace

class NodeMcuManager::Glue : public tosca::Storage,
                             public tosca::Flash,
                             public tosca::Downloader,
                             public tosca::Outbox,
                             public tosca::Callbacks,
                             public tosca::Clock {
 public:
  explicit Glue(NodeMcuManager& m) : m_(m) {}

  // The app's callbacks as set through NodeMcuManager (empty: do nothing / start accepts).
  std::function<void()> onInstall, onStop, onUninstall;
  std::function<void(const tosca::Str&)> onConfigure;
  std::function<bool()> onStart;

  void install() override {
    if (onInstall) onInstall();
  }
  void configure(const tosca::Str& c) override {
    if (onConfigure) onConfigure(c);
  }
  bool start() override { return !onStart || onStart(); }
  void stop() override {
    if (onStop) onStop();
  }
  void uninstall() override {
    if (onUninstall) onUninstall();
  }

  bool load(tosca::State& out) override {
    if (!LittleFS.begin()) return false;
    File f = LittleFS.open(kStateFile, "r");
    if (!f) return false;
    tosca::Str body;
    while (f.available()) body += static_cast<char>(f.read());
    f.close();
    tosca::Json j;
    if (!tosca::Json::parse(body, j) || !j.isObject()) return false;
    out.hasApp = flag(j, "hasApp");
    out.appMd5 = text(j, "appMd5");
    out.appSize = j.get("appSize").asUnsigned();
    out.running = flag(j, "running");
    out.hasConfig = flag(j, "hasConfig");
    out.appConfig = text(j, "appConfig");
    out.hasPending = flag(j, "hasPending");
    out.pendingResponse = text(j, "pendingResponse");
    out.flashing = flag(j, "flashing");
    return true;
  }

  // Atomic: write a temp file, then rename it over the state file.
  bool save(const tosca::State& s) override {
    if (!LittleFS.begin()) return false;
    tosca::Str body = stateJson(s);
    File f = LittleFS.open(kStateTmp, "w");
    if (!f) return false;
    bool ok = f.write(reinterpret_cast<const uint8_t*>(body.data()), body.size()) == body.size();
    f.close();
    return ok && LittleFS.rename(kStateTmp, kStateFile);
  }

  bool begin(uint64_t size) override { return Update.begin(static_cast<size_t>(size), U_FLASH); }
  bool write(const uint8_t* data, size_t len) override {
    return Update.write(const_cast<uint8_t*>(data), len) == len;
  }
  bool commit() override { return Update.end(true); }
  void abort() override { Update.end(false); }

  tosca::FetchResult fetch(const tosca::Str& url, uint64_t offset, tosca::DownloadSink& sink) override {
    WiFiClient client;
    HTTPClient http;
    http.setTimeout(15000);
    if (!http.begin(client, String(url.c_str()))) return {tosca::FetchResult::Fatal, "bad url"};
    const char* headers[] = {"Content-Range"};
    http.collectHeaders(headers, 1);
    if (offset > 0) http.addHeader("Range", String("bytes=") + String(static_cast<uint32_t>(offset)) + "-");
    int code = http.GET();
    if (code <= 0) {
      http.end();
      return {tosca::FetchResult::Retry, tosca::Str("http: ") + HTTPClient::errorToString(code).c_str()};
    }
    uint64_t skip = 0;
    int length = http.getSize();  // Content-Length of this response, -1 when absent
    bool known = length >= 0;
    uint64_t total = known ? static_cast<uint64_t>(length) : 0;
    if (code == 206) {
      String range = http.header("Content-Range");
      int slash = range.lastIndexOf('/');
      known = slash > 0;
      total = known ? static_cast<uint64_t>(range.substring(slash + 1).toInt()) : 0;
    } else if (code == 200) {
      skip = offset;  // the server ignored Range
    } else {
      http.end();
      return {code >= 500 ? tosca::FetchResult::Retry : tosca::FetchResult::Fatal, "http " + tosca::Str::number(static_cast<uint64_t>(code))};
    }
    if (!sink.started(known, total)) {
      http.end();
      return {};
    }
    WiFiClient* stream = http.getStreamPtr();
    uint8_t buf[1024];
    uint64_t remaining = length >= 0 ? static_cast<uint64_t>(length) : UINT64_MAX;
    unsigned long last = millis();
    while (http.connected() && remaining > 0) {
      size_t avail = stream->available();
      if (avail == 0) {
        if (millis() - last > 15000) {
          http.end();
          return {tosca::FetchResult::Retry, "read timed out"};
        }
        delay(1);
        continue;
      }
      int n = stream->readBytes(buf, avail < sizeof(buf) ? avail : sizeof(buf));
      if (n <= 0) continue;
      last = millis();
      size_t start = 0;
      if (skip > 0) {
        start = skip < static_cast<uint64_t>(n) ? static_cast<size_t>(skip) : static_cast<size_t>(n);
        skip -= start;
      }
      if (start < static_cast<size_t>(n) && !sink.chunk(buf + start, n - start)) {
        http.end();
        return {};
      }
      if (remaining != UINT64_MAX) remaining -= static_cast<uint64_t>(n);
      m_.mqtt_.loop();  // keep the broker connection alive during long downloads
      yield();
    }
    http.end();
    if (remaining != UINT64_MAX && remaining > 0) return {tosca::FetchResult::Retry, "connection closed early"};
    return {};
  }

  void waitBeforeRetry() override { delay(500); }

  bool publish(const tosca::Str& json) override {
    if (!m_.mqtt_.connected()) return false;  // not sent: the core keeps it for after the boot
    // QoS 1 waits for the PUBACK; without it the answer may still have arrived: sent.
    m_.mqtt_.publish(m_.response_, String(json.c_str()), false, 1);
    return true;
  }

  // No loop() and no QoS 1 here: either would read (and acknowledge) a command the engine sent
  // after the install's answer, which the restart would then lose. Unread, the broker keeps it
  // in the device's session and sends it again after the boot.
  void reboot() override {
    m_.mqtt_.publish(m_.status_, "offline", true, 0);
    m_.mqtt_.disconnect();
    ESP.restart();
  }

  void log(const tosca::Str& line) override { Serial.println(line.c_str()); }

  uint32_t nowMs() override { return static_cast<uint32_t>(::millis()); }

 private:
  NodeMcuManager& m_;
};

NodeMcuManager* NodeMcuManager::instance_ = nullptr;

NodeMcuManager::NodeMcuManager(const String& mqttServer, uint16_t port, const char* controlTopic,
                               const char* responseTopic)
    : NodeMcuManager(mqttServer.c_str(), port, controlTopic, responseTopic) {}

NodeMcuManager::NodeMcuManager(const char* mqttServer, uint16_t port, const char* controlTopic,
                               const char* responseTopic)
    : server_(mqttServer),
      port_(port),
      control_(controlTopic),
      response_(responseTopic),
      id_(String(ESP.getChipId())),
      mqtt_(512) {
  status_ = response_ + "/status/" + id_;
  glue_ = new Glue(*this);
  core_ = new tosca::ManagerCore(id_.c_str(), *glue_, *glue_, *glue_, *glue_);
  core_->setCallbacks(glue_);
  core_->setClock(glue_);
  instance_ = this;
}

void NodeMcuManager::onMessage(MQTTClient*, char topic[], char bytes[], int length) {
  // The MQTT client must not be used inside its callback: keep the command for loopManager().
  if (instance_ == nullptr || instance_->control_ != topic || length < 0) return;
  if (instance_->pending_.size() >= 4) return;  // one command in flight is the protocol; drop floods
  instance_->pending_.emplace_back(bytes, static_cast<size_t>(length));
}

bool NodeMcuManager::connect() {
  mqtt_.begin(server_.c_str(), port_, net_);
  mqtt_.setCleanSession(false);
  mqtt_.setKeepAlive(30);
  mqtt_.setWill(status_.c_str(), "offline", true, 1);
  mqtt_.onMessageAdvanced(NodeMcuManager::onMessage);
  if (!mqtt_.connect(id_.c_str())) return false;
  mqtt_.subscribe(control_, 1);
  mqtt_.publish(status_, "online", true, 1);
  if (!booted_) {
    booted_ = true;
    core_->boot();
  }
  return true;
}

void NodeMcuManager::loopManager() {
  if (!mqtt_.connected()) {
    static unsigned long lastTry = 0;
    if (millis() - lastTry > 2000) {
      lastTry = millis();
      connect();
    }
    return;
  }
  mqtt_.loop();
  if (!pending_.empty()) {
    std::string cmd = pending_.front();
    pending_.pop_front();
    core_->handleMessage(cmd.data(), cmd.size());
  }
}

void NodeMcuManager::setProgressIntervalMs(uint32_t ms) { core_->progressIntervalMs = ms; }

void NodeMcuManager::setCallbackInstall(std::function<void()> cb) { glue_->onInstall = cb; }
void NodeMcuManager::setCallbackConfigure(std::function<void(String)> cb) {
  glue_->onConfigure = [cb](const tosca::Str& c) {
    if (cb) cb(String(c.c_str()));
  };
}
void NodeMcuManager::setCallbackStart(void (*cb)()) {
  glue_->onStart = [cb] {
    if (cb) cb();
    return true;
  };
}
void NodeMcuManager::setCallbackStart(std::function<bool()> cb) { glue_->onStart = cb; }
void NodeMcuManager::setCallbackStop(std::function<void()> cb) { glue_->onStop = cb; }
void NodeMcuManager::setCallbackUninstall(std::function<void()> cb) { glue_->onUninstall = cb; }

String NodeMcuManager::appConfig() const {
  return core_->state().hasConfig ? String(core_->state().appConfig.c_str()) : String();
}

bool NodeMcuManager::appRunning() const { return core_->state().running; }
