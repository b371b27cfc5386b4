//! The pure decision engine (CONTRACT §3).
