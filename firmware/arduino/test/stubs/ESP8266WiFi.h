// Host stub (declarations only), see Arduino.h.
#pragma once
#include "Arduino.h"
class WiFiClient {
 public:
  size_t available();
  int readBytes(uint8_t*, size_t);
};
enum { WL_CONNECTED = 3, WIFI_STA = 1 };
struct WiFiClass {
  void mode(int);
  void begin(const char*, const char*);
  int status();
  int waitForConnectResult();
};
extern WiFiClass WiFi;
