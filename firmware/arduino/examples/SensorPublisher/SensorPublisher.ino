// SensorPublisher: the thesis' evaluation app (§4.4). Reads a DHT22 (temperature, humidity) and
// publishes a reading every appConfig.interval ms (default 3000) on `sensors/<hardwareId>`
// while the engine has it started. Deployed as the NodeMCU_App's DA; embeds the manager so the
// device keeps taking install/configure/start/stop/uninstall commands.
#include <DHT.h>
#include <ESP8266WiFi.h>
#include <ToscaManager.h>

#include "core/MiniJson.h"

// Bootstrap settings, flashed once over USB (thesis §4.1.1).
const char* WIFI_SSID = "your-ssid";
const char* WIFI_PASSWORD = "your-password";
const char* MQTT_SERVER = "192.168.0.27";  // the NodeMCU template's pubSubServer host
const uint16_t MQTT_PORT = 1883;

ToscaManager manager(MQTT_SERVER, MQTT_PORT, "controlTopic", "responseTopic");
DHT dht(D4, DHT22);

bool publishing = false;
unsigned long intervalMs = 3000;
unsigned long lastReading = 0;

// appConfig is JSON like { "interval" : 3000 }; anything else keeps the current interval.
void applyConfig(const String& appConfig) {
  tosca::Json cfg;
  if (!tosca::Json::parse(appConfig.c_str(), cfg) || !cfg.isObject()) return;
  tosca::Json interval = cfg.get("interval");
  if (interval.isUnsigned() && interval.asUnsigned() >= 100) {
    intervalMs = static_cast<unsigned long>(interval.asUnsigned());
  }
}

void setup() {
  Serial.begin(115200);
  dht.begin();
  WiFi.mode(WIFI_STA);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) delay(200);

  manager.setCallbackInstall([] { publishing = false; });  // safe state before the update
  manager.setCallbackConfigure([](String appConfig) { applyConfig(appConfig); });
  manager.setCallbackStart([] {
    publishing = true;
    return true;
  });
  manager.setCallbackStop([] { publishing = false; });
  manager.setCallbackUninstall([] { publishing = false; });
  applyConfig(manager.appConfig());
  manager.connect();
}

void loop() {
  manager.loopManager();
  if (!publishing || millis() - lastReading < intervalMs) return;
  lastReading = millis();
  float t = dht.readTemperature();
  float h = dht.readHumidity();
  if (isnan(t) || isnan(h)) return;
  String payload = String("{\"hardwareId\":\"") + manager.hardwareId() + "\",\"temperature\":" + String(t, 1) +
                   ",\"humidity\":" + String(h, 1) + "}";
  manager.mqtt().publish(String("sensors/") + manager.hardwareId(), payload, false, 1);
}
