//! Self-validating records, the unit of everything the spool writes (sans-IO): a magic, the
//! payload length and its SHA-256, then the payload. A record cut short by a crash, or with a
//! flipped byte, fails [`decode`] and is never taken for a message — the spool quarantines it.
//!
//! Hand-written framing (15 lines) rather than a crate: the format must stay byte-stable across
//! versions of any dependency, and ring (already here for rustls) gives the digest.

/// Magic and format version at the start of every record.
const MAGIC: &[u8; 4] = b"PWQ1";
/// Bytes before the payload: magic, length, SHA-256.
pub const HEADER: usize = 4 + 8 + 32;

fn digest(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Frame `payload` as a record.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload of a whole, intact record; why not otherwise.
pub fn decode(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.len() < HEADER {
        return Err(format!("truncated: {} bytes, shorter than a record header", bytes.len()));
    }
    if &bytes[..4] != MAGIC {
        return Err("bad magic: not a postwire queue record".into());
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[4..12]);
    let len = u64::from_le_bytes(len);
    let body = &bytes[HEADER..];
    if body.len() as u64 != len {
        return Err(format!("length mismatch: header says {len} bytes, {} present", body.len()));
    }
    if digest(body)[..] != bytes[12..HEADER] {
        return Err("checksum mismatch".into());
    }
    Ok(body)
}

/// A payload of several parts: every part but the last length-prefixed (u64, little endian), the
/// last one taking the rest. A message file of the first spool format was `join_parts(&[envelope,
/// message])`; a segment record is `join_parts(&[id, created, envelope, message])`, framed as it
/// is joined by [`encode_parts`].
#[cfg(test)]
pub fn join_parts(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts_len(parts));
    put_parts(&mut out, parts);
    out
}

/// `encode(&join_parts(parts))` with the parts copied once, straight into the record.
pub fn encode_parts(parts: &[&[u8]]) -> Vec<u8> {
    let len = parts_len(parts);
    let mut out = Vec::with_capacity(HEADER + len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(len as u64).to_le_bytes());
    out.extend_from_slice(&[0; 32]);
    put_parts(&mut out, parts);
    let d = digest(&out[HEADER..]);
    out[12..HEADER].copy_from_slice(&d);
    out
}

fn parts_len(parts: &[&[u8]]) -> usize {
    parts.iter().map(|p| p.len() + 8).sum::<usize>().saturating_sub(8)
}

fn put_parts(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for (i, p) in parts.iter().enumerate() {
        if i + 1 < parts.len() {
            out.extend_from_slice(&(p.len() as u64).to_le_bytes());
        }
        out.extend_from_slice(p);
    }
}

/// Split a payload made by [`join_parts`] with `n` parts (n ≥ 1).
pub fn split_parts(payload: &[u8], n: usize) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::with_capacity(n);
    let mut rest = payload;
    for _ in 1..n {
        let len = rest.get(..8).ok_or("payload shorter than its part length")?;
        let mut b = [0u8; 8];
        b.copy_from_slice(len);
        let len = usize::try_from(u64::from_le_bytes(b)).map_err(|_| "part length overflows")?;
        rest = &rest[8..];
        if len > rest.len() {
            return Err("part length past the end of the record".into());
        }
        let (part, r) = rest.split_at(len);
        out.push(part);
        rest = r;
    }
    out.push(rest);
    Ok(out)
}

/// Split a message record's payload of the first spool format: the envelope (JSON) and the
/// message (`join_parts(&[envelope, message])`).
pub fn split(payload: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let p = split_parts(payload, 2)?;
    Ok((p[0], p[1]))
}

/// What starts at the front of a run of records (an append-only segment).
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An intact record: its payload and its length in bytes (header included).
    Whole(&'a [u8], usize),
    /// `n` damaged bytes (a checksum mismatch, a bad header) followed by more intact records.
    Damaged(usize),
    /// Nothing intact from here to the end: a write cut short (or nothing at all when empty).
    Torn,
}

/// The length of the intact record at the start of `bytes`, if there is one.
fn whole_at(bytes: &[u8]) -> Option<usize> {
    let len = declared(bytes)?;
    let end = HEADER.checked_add(usize::try_from(len).ok()?)?;
    decode(bytes.get(..end)?).ok().map(|_| end)
}

/// The payload length a header at the start of `bytes` declares.
fn declared(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return None;
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[4..12]);
    Some(u64::from_le_bytes(len))
}

/// Read the next frame of a segment. A record whose checksum fails with more records after it
/// is [`Frame::Damaged`] (a bad disk; the caller quarantines those bytes); a last record that
/// fails, or a header cut short, is [`Frame::Torn`] (a write a crash interrupted). After a bad
/// header the next intact record is searched for by its magic.
pub fn next_frame(bytes: &[u8]) -> Frame<'_> {
    if bytes.is_empty() {
        return Frame::Torn;
    }
    if let Some(n) = whole_at(bytes) {
        return Frame::Whole(&bytes[HEADER..n], n);
    }
    let end = declared(bytes).and_then(|l| usize::try_from(l).ok()).and_then(|l| HEADER.checked_add(l));
    match end {
        Some(end) if end < bytes.len() && whole_at(&bytes[end..]).is_some() => Frame::Damaged(end),
        Some(end) if end == bytes.len() => Frame::Torn,
        _ => (1..bytes.len())
            .filter(|&i| bytes[i..].starts_with(MAGIC))
            .find(|&i| whole_at(&bytes[i..]).is_some())
            .map_or(Frame::Torn, Frame::Damaged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_record_round_trips_and_every_cut_is_detected() {
        let rec = encode(&join_parts(&[b"{\"a\":1}", b"Subject: x\r\n\r\nbody\r\n"]));
        let (env, msg) = split(decode(&rec).unwrap()).unwrap();
        assert_eq!(env, b"{\"a\":1}");
        assert_eq!(msg, b"Subject: x\r\n\r\nbody\r\n");
        for cut in 0..rec.len() {
            assert!(decode(&rec[..cut]).is_err(), "a record cut at {cut} must not decode");
        }
        let mut flipped = rec.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
    }

    #[test]
    fn parts_round_trip() {
        let p = join_parts(&[b"id", b"", b"{}", b"message"]);
        assert_eq!(split_parts(&p, 4).unwrap(), [&b"id"[..], b"", b"{}", b"message"]);
        assert!(split_parts(&p[..5], 4).is_err());
        // The first spool format, byte for byte: envelope length (u64 LE), envelope, message.
        assert_eq!(join_parts(&[b"env", b"msg"]), [&3u64.to_le_bytes()[..], b"env", b"msg"].concat());
        for parts in [&[&b"id"[..], b"", b"{}", b"message"][..], &[b"one"], &[]] {
            assert_eq!(encode_parts(parts), encode(&join_parts(parts)));
        }
        assert_eq!(
            split(&[&3u64.to_le_bytes()[..], b"envmsg"].concat()).unwrap(),
            (&b"env"[..], &b"msg"[..])
        );
    }

    #[test]
    fn frames_of_a_segment_whole_damaged_and_torn() {
        let (a, b, c) = (encode(b"first"), encode(b"second"), encode(b"third"));
        let seg = [a.clone(), b.clone(), c.clone()].concat();
        assert_eq!(next_frame(&seg), Frame::Whole(b"first", a.len()));
        // A flipped byte in the middle record: damaged, and the next one is found.
        let mut bad = seg.clone();
        bad[a.len() + b.len() - 1] ^= 1;
        assert_eq!(next_frame(&bad[a.len()..]), Frame::Damaged(b.len()));
        // A flipped length in the middle record: the next one is found by its magic.
        let mut bad = seg.clone();
        bad[a.len() + 5] ^= 0x40;
        assert_eq!(next_frame(&bad[a.len()..]), Frame::Damaged(b.len()));
        // The last record cut short or failing its checksum: torn.
        for cut in 0..c.len() {
            assert_eq!(next_frame(&c[..cut]), Frame::Torn, "cut at {cut}");
        }
        let mut last = c.clone();
        *last.last_mut().unwrap() ^= 1;
        assert_eq!(next_frame(&last), Frame::Torn);
    }

    proptest! {
        #[test]
        fn any_corruption_of_one_byte_is_detected(payload in proptest::collection::vec(any::<u8>(), 0..200), at in any::<usize>(), bit in 0u8..8) {
            let mut rec = encode(&payload);
            let i = at % rec.len();
            rec[i] ^= 1 << bit;
            prop_assert!(decode(&rec).is_err());
        }
    }
}
