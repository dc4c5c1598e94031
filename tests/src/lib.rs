//! Cross-crate integration test helpers (spawning real peers on loopback).
