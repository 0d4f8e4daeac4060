//! The parser's switches, shared by the command, address and parameter grammars (its own file so
//! `command`, `address` and `params` depend on it instead of on each other).

/// Parser switches.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    /// Conformance mode: no space after `FROM:`, no bare addresses without `<>`, unknown ESMTP
    /// parameters refused (555), no bare-LF command lines.
    pub strict: bool,
    /// UTF-8 allowed in addresses (the client said SMTPUTF8 on MAIL).
    pub smtputf8: bool,
}
