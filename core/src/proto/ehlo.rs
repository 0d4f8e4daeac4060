//! EHLO capabilities as the client sees them.

use std::collections::BTreeMap;

use super::reply::Reply;

/// The server's EHLO keywords (upper-cased) mapped to their parameters (the rest of the line,
/// possibly empty): `"SIZE" → "35882577"`, `"AUTH" → "PLAIN LOGIN"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities(pub BTreeMap<String, String>);

impl Capabilities {
    /// From a 250 EHLO reply: the first line is the greeting, the rest are keywords.
    pub fn from_ehlo(reply: &Reply) -> Capabilities {
        todo!()
    }
    /// True when `keyword` was advertised (case-insensitive).
    pub fn has(&self, keyword: &str) -> bool {
        self.0.contains_key(&keyword.to_ascii_uppercase())
    }
    /// The parameters of `keyword`.
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.0.get(&keyword.to_ascii_uppercase()).map(|s| s.as_str())
    }
    /// SIZE limit, when advertised with a non-zero number.
    pub fn size(&self) -> Option<u64> {
        self.get("SIZE").and_then(|s| s.trim().parse().ok()).filter(|n| *n > 0)
    }
    /// AUTH mechanisms (upper-cased), also from the old `AUTH=` form.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        todo!()
    }
}
