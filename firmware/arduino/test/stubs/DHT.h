// Host stub (declarations only) of the Adafruit DHT library API used by the example.
#pragma once
const int DHT22 = 22;
class DHT {
 public:
  DHT(int pin, int type);
  void begin();
  float readTemperature();
  float readHumidity();
};
