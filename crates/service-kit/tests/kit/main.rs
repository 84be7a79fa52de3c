//! service-kit against a real database and real sockets.

mod access;
mod app;
