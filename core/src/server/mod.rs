//! The SMTP server (being written).
