//! Self-validating records, the unit of everything the spool writes (sans-IO): a magic, the
//! payload length and its SHA-256, then the payload. A record cut short by a crash, or with a
//! flipped byte, fails [`decode`] and is never taken for a message — the spool quarantines it.
//!
//! Hand-written framing (15 lines) rather than a crate: the format must stay byte-stable across
//! versions of any dependency, and ring (already here for rustls) gives the digest.

/// Magic and format version at the start of every record.
const MAGIC: &[u8; 4] = b"PWQ1";
const HEADER: usize = 4 + 8 + 32;

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

/// A message record's payload: the envelope (JSON) and the message, length-prefixed.
pub fn join(envelope: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + envelope.len() + message.len());
    out.extend_from_slice(&(envelope.len() as u64).to_le_bytes());
    out.extend_from_slice(envelope);
    out.extend_from_slice(message);
    out
}

/// Split a payload made by [`join`].
pub fn split(payload: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let len = payload.get(..8).ok_or("payload shorter than its envelope length")?;
    let mut n = [0u8; 8];
    n.copy_from_slice(len);
    let n = usize::try_from(u64::from_le_bytes(n)).map_err(|_| "envelope length overflows")?;
    let rest = &payload[8..];
    if n > rest.len() {
        return Err("envelope length past the end of the record".into());
    }
    Ok(rest.split_at(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_record_round_trips_and_every_cut_is_detected() {
        let rec = encode(&join(b"{\"a\":1}", b"Subject: x\r\n\r\nbody\r\n"));
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
