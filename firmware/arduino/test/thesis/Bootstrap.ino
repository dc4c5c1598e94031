// The thesis' listing 4.1 (minimal bootstrap app) plus callbacks set the thesis way
// (`&function`), compile-checked against the library to prove the API matches.
#include <ESP8266WiFi.h>
#include <ToscaManager.h>

const char* ssid = "WLAN-SSID";
const char* password = "password";
String mqttServer = "192.168.0.10";
ToscaManager tManager(mqttServer);

void install() {}
void configure(String appConfig) { (void)appConfig; }
void start() {}
void stop() {}
void uninstall() {}

void setup() {
  WiFi.mode(WIFI_STA);
  WiFi.begin(ssid, password);
  while (WiFi.waitForConnectResult() != WL_CONNECTED) {
    WiFi.begin(ssid, password);
  }
  tManager.setCallbackInstall(&install);
  tManager.setCallbackConfigure(&configure);
  tManager.setCallbackStart(&start);
  tManager.setCallbackStop(&stop);
  tManager.setCallbackUninstall(&uninstall);
  tManager.connect();
}

void loop() { tManager.loopManager(); }
