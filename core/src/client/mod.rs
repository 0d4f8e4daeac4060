//! The SMTP client (being written).
