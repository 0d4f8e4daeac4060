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
        let mut map = BTreeMap::new();
        for line in reply.lines.iter().skip(1) {
            let line = line.trim();
            let (key, params) = match line.split_once([' ', '\t']) {
                Some((k, p)) => (k, p.trim()),
                None => (line, ""),
            };
            if key.is_empty() {
                continue;
            }
            map.entry(key.to_ascii_uppercase()).or_insert_with(|| params.to_string());
        }
        Capabilities(map)
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
        let mut out: Vec<String> = Vec::new();
        let mut add = |words: &str| {
            for w in words.split_whitespace() {
                let w = w.to_ascii_uppercase();
                if !out.contains(&w) {
                    out.push(w);
                }
            }
        };
        if let Some(p) = self.0.get("AUTH") {
            add(p);
        }
        // The pre-standard `250-AUTH=LOGIN PLAIN` form.
        for (k, p) in &self.0 {
            if let Some(first) = k.strip_prefix("AUTH=") {
                add(first);
                add(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities() {
        let r = Reply::new(
            250,
            "mx.example greets you\nPIPELINING\nsize 35882577\nAUTH PLAIN login\nAUTH=LOGIN CRAM-MD5\n8BITMIME\nSTARTTLS",
            None,
        );
        let c = Capabilities::from_ehlo(&r);
        assert!(c.has("pipelining") && c.has("STARTTLS") && c.has("8bitmime"));
        assert!(!c.has("SMTPUTF8"));
        assert!(!c.has("MX.EXAMPLE"), "the greeting line is not a keyword");
        assert_eq!(c.size(), Some(35882577));
        assert_eq!(c.get("auth"), Some("PLAIN login"));
        assert_eq!(c.auth_mechanisms(), vec!["PLAIN", "LOGIN", "CRAM-MD5"]);
        let c = Capabilities::from_ehlo(&Reply::new(250, "hi\nSIZE\nAUTH=PLAIN", None));
        assert_eq!(c.size(), None);
        assert!(c.has("size"));
        assert_eq!(c.auth_mechanisms(), vec!["PLAIN"]);
        assert_eq!(Capabilities::from_ehlo(&Reply::new(250, "hi\nSIZE 0", None)).size(), None);
        assert!(Capabilities::from_ehlo(&Reply::new(250, "only greeting", None)).0.is_empty());
    }
}
