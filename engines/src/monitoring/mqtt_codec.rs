//! A minimal MQTT 3.1.1 / 5 packet reader for the tap: frames a byte stream and decodes the
//! packets the activity log needs (CONNECT client id, CONNACK code, PUBLISH topic and payload,
//! SUBSCRIBE filters, DISCONNECT). Partial input waits for more; malformed input is an error,
//! never a panic.

/// What the tap needs from a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect {
        client_id: String,
        protocol_level: u8,
    },
    ConnAck {
        return_code: u8,
    },
    Publish {
        topic: String,
        payload: Vec<u8>,
    },
    Subscribe {
        filters: Vec<String>,
    },
    Disconnect,
    Other(u8),
}

/// Largest packet the tap decodes (bigger ones are skipped, still forwarded).
pub const MAX_PACKET: usize = 16 * 1024 * 1024;

/// Accumulates bytes of one direction of a connection.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// MQTT 5 (properties present) once CONNECT said so.
    pub v5: bool,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn u8(&mut self) -> Result<u8, String> {
        let v = *self.b.get(self.i).ok_or("truncated packet")?;
        self.i += 1;
        Ok(v)
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }
    fn bytes(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.i.checked_add(n).ok_or("length overflow")?;
        let s = self.b.get(self.i..end).ok_or("truncated packet")?;
        self.i = end;
        Ok(s)
    }
    fn string(&mut self) -> Result<String, String> {
        let n = usize::from(self.u16()?);
        Ok(String::from_utf8_lossy(self.bytes(n)?).into_owned())
    }
    fn varint(&mut self) -> Result<usize, String> {
        let mut v = 0usize;
        for shift in [0, 7, 14, 21] {
            let b = self.u8()?;
            v |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("malformed variable length".into())
    }
    fn rest(&self) -> &[u8] {
        &self.b[self.i.min(self.b.len())..]
    }
}

impl Framer {
    /// Adds bytes; returns the complete packets decoded so far.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Packet>, String> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            if self.buf.len() < 2 {
                break;
            }
            // Remaining length: up to 4 bytes after the first.
            let mut len = 0usize;
            let mut hdr = 1;
            let mut complete = false;
            for (k, shift) in [0usize, 7, 14, 21].into_iter().enumerate() {
                let Some(&b) = self.buf.get(1 + k) else { break };
                len |= usize::from(b & 0x7f) << shift;
                hdr += 1;
                if b & 0x80 == 0 {
                    complete = true;
                    break;
                }
                if k == 3 {
                    return Err("malformed remaining length".into());
                }
            }
            if !complete {
                break;
            }
            if len > MAX_PACKET {
                return Err(format!("packet of {len} bytes is too large to decode"));
            }
            if self.buf.len() < hdr + len {
                break;
            }
            let first = self.buf[0];
            let body: Vec<u8> = self.buf[hdr..hdr + len].to_vec();
            self.buf.drain(..hdr + len);
            out.push(self.decode(first, &body)?);
        }
        Ok(out)
    }

    fn decode(&mut self, first: u8, body: &[u8]) -> Result<Packet, String> {
        let mut c = Cursor { b: body, i: 0 };
        Ok(match first >> 4 {
            1 => {
                let _name = c.string()?;
                let level = c.u8()?;
                let _flags = c.u8()?;
                let _keepalive = c.u16()?;
                self.v5 = level == 5;
                if self.v5 {
                    let n = c.varint()?;
                    c.bytes(n)?;
                }
                Packet::Connect {
                    client_id: c.string()?,
                    protocol_level: level,
                }
            }
            2 => {
                let _flags = c.u8()?;
                Packet::ConnAck {
                    return_code: c.u8()?,
                }
            }
            3 => {
                let qos = (first >> 1) & 3;
                let topic = c.string()?;
                if qos > 0 {
                    c.u16()?;
                }
                if self.v5 {
                    let n = c.varint()?;
                    c.bytes(n)?;
                }
                Packet::Publish {
                    topic,
                    payload: c.rest().to_vec(),
                }
            }
            8 => {
                c.u16()?;
                if self.v5 {
                    let n = c.varint()?;
                    c.bytes(n)?;
                }
                let mut filters = Vec::new();
                while !c.rest().is_empty() {
                    filters.push(c.string()?);
                    c.u8()?;
                }
                Packet::Subscribe { filters }
            }
            14 => Packet::Disconnect,
            t => Packet::Other(t),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn connect(id: &str) -> Vec<u8> {
        let mut v = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60];
        v.extend_from_slice(&(id.len() as u16).to_be_bytes());
        v.extend_from_slice(id.as_bytes());
        let mut p = vec![0x10, v.len() as u8];
        p.extend(v);
        p
    }

    #[test]
    fn frames_split_anywhere() {
        let mut bytes = connect("dev1");
        bytes.extend_from_slice(&[0x30, 9, 0, 3, b'a', b'/', b'b', b'm', b's', b'g', b'!']);
        bytes.extend_from_slice(&[0xe0, 0]);
        for split in 0..bytes.len() {
            let mut f = Framer::default();
            let mut got = f.push(&bytes[..split]).unwrap();
            got.extend(f.push(&bytes[split..]).unwrap());
            assert_eq!(
                got,
                vec![
                    Packet::Connect {
                        client_id: "dev1".into(),
                        protocol_level: 4
                    },
                    Packet::Publish {
                        topic: "a/b".into(),
                        payload: b"msg!".to_vec()
                    },
                    Packet::Disconnect
                ]
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut f = Framer::default();
            let _ = f.push(&data);
        }
    }
}
