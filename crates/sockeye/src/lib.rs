//! Socket.IO for Rust.
