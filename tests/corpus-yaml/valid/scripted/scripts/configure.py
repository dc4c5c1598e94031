# Configures the collector (example implementation artifact).
print("configuring collector")
