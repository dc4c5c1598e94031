#!/bin/sh
# Installs the collector (example implementation artifact).
echo "installing collector"
