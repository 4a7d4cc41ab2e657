//! The desktop window (placeholder module replaced below).
